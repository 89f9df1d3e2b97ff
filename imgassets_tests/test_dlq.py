"""`imgassets dlq list|replay` on the real Kafka broker: dead letters of every kind (and a record that is not
one) are written to a fresh dead-letter topic, then listed, filtered and replayed through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import Result

from imgassets.core import dlq
from imgassets.core.messages import MAX_MESSAGE_BYTES, DeadLetter
from imgassets_tests import helpers

pytestmark = pytest.mark.integration

IMAGE_KEY = "images/2026/01/02/03/0123456789ab-cat.jpg"
BATCH_KEY = "images/2026/01/02/04/ba7c0123abcd-dog.jpg"
IMAGE_VALUE = json.dumps({"schema": "imgassets.image.v1", "bucket": "other", "key": IMAGE_KEY}).encode()
BATCH_VALUE = json.dumps({"schema": "imgassets.image.v1", "bucket": "imgassets", "key": BATCH_KEY}).encode()
NOT_JSON = b"\x00garbage{"


def letters(now: datetime) -> dict[str, DeadLetter]:
    """name → dead letter, written in this order; their ages count back from `now`, the moment they are written."""

    def letter(reason: str, offset: int, value: bytes | None, age: timedelta, **extra: object) -> DeadLetter:
        built = DeadLetter.build(reason, "images", 1, offset, value, **extra)
        return built.model_copy(update={"failed_at": now - age})

    return {
        "not_json": letter(
            "not JSON: Expecting value: line 1 column 1 (char 0)\nmore detail", 10, NOT_JSON, timedelta(days=3)
        ),
        # As the sensor wrote it before it kept the key its value names: `dlq list` still shows that key.
        "bucket": letter(
            "image is in bucket 'other', this pipeline reads 'imgassets'", 11, IMAGE_VALUE, timedelta(hours=5)
        ).model_copy(update={"image_key": None}),
        "batch": letter(
            "run 1234 failed for good after 2 re-requests: S3 unavailable",
            12,
            BATCH_VALUE,
            timedelta(minutes=30),
            kind="batch",
            image_key=BATCH_KEY,
            run_id="1234",
        ),
        "gap": letter(
            "offsets 20-29 vanished before they were read (retention)",
            20,
            None,
            timedelta(minutes=20),
            kind="gap",
            last_offset=29,
        ),
        "too_large": letter("message too large: 20000 bytes > 16384", 13, b"x" * 20000, timedelta(minutes=10)),
    }


INVALID = b"this is not a dead letter"


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def dead_letters(topics, deployment, now: datetime):
    producer = deployment.producer()
    try:
        for item in letters(now).values():
            producer.send(topics.dlq, key=item.kafka_key, value=item.encode()).get(timeout=30)
        producer.send(topics.dlq, value=INVALID).get(timeout=30)
    finally:
        producer.close()
    return topics


def cli(deployment: helpers.Deployment, *args: str) -> Result:
    return deployment.cli("dlq", "--timeout", "10", *args)


def stdout_lines(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line]


def image_topic_records(topic: str) -> list[tuple[bytes | None, bytes]]:
    """(key, value) of every record in `topic`."""
    return [(record.key, record.value) for record in helpers.records(topic)]


def test_list_shows_every_record_from_the_beginning(dead_letters, deployment, now: datetime) -> None:
    result = cli(deployment, "list")
    assert result.exit_code == 0, result.output
    lines = stdout_lines(result)
    assert lines[-1] == f"6 dead letters in {dead_letters.dlq} (1 not valid dead-letter records)"
    rows = lines[:-1]
    assert len(rows) == 6
    when = (now - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows[0].split() == [
        when,
        "message",
        "images/1@10",
        "-",
        "not",
        "JSON:",
        "Expecting",
        "value:",
        "line",
        "1",
        "column",
        "1",
        "(char",
        "0)…",
    ]  # reason cut to its first line
    assert rows[1].split()[1:4] == ["message", "images/1@11", IMAGE_KEY]
    assert rows[2].split()[1:4] == ["batch", "images/1@12", BATCH_KEY]
    assert rows[3].split()[1:4] == ["gap", "images/1@20-29", "-"]
    assert "invalid" in rows[5] and "not a dead-letter record" in rows[5] and f"({len(INVALID)} bytes)" in rows[5]


def test_list_json_lines(dead_letters, deployment) -> None:
    result = cli(deployment, "list", "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in stdout_lines(result)]  # stdout is pure JSON lines
    assert len(records) == 6
    assert [r.get("kind") for r in records[:5]] == ["message", "message", "batch", "gap", "message"]
    assert records[2]["image_key"] == BATCH_KEY and records[2]["run_id"] == "1234"
    assert records[2]["dlq"] == {"partition": 0, "offset": 2}
    assert DeadLetter.model_validate(records[1]).value == IMAGE_VALUE
    assert records[5]["invalid"].startswith("not a dead-letter record")
    assert "6 dead letters" in result.stderr


def test_list_filters(dead_letters, deployment, now: datetime) -> None:
    def offsets(*args: str) -> list[str]:
        result = cli(deployment, "list", *args)
        assert result.exit_code == 0, result.output
        return [line.split()[2] for line in stdout_lines(result)[:-1]]

    assert offsets("--reason", "NOT json") == ["images/1@10"]  # case-insensitive substring
    assert offsets("--reason", "bucket", "--reason", "s3 UNAVAILABLE") == ["images/1@11", "images/1@12"]  # any of
    assert offsets("--kind", "gap") == ["images/1@20-29"]
    assert offsets("--kind", "batch", "--kind", "gap") == ["images/1@12", "images/1@20-29"]
    assert offsets("--since", "1h") == ["images/1@12", "images/1@20-29", "images/1@13"]  # no invalid: no time
    assert offsets("--since", (now - timedelta(days=1)).isoformat(), "--until", "15m") == [
        "images/1@11",
        "images/1@12",
        "images/1@20-29",
    ]
    assert offsets("--until", "2d") == ["images/1@10"]
    assert offsets("--limit", "2") == ["images/1@10", "images/1@11"]
    assert offsets("--kind", "message", "--since", "1d", "--limit", "1") == ["images/1@11"]
    result = cli(deployment, "list", "--reason", "nothing like this")
    assert stdout_lines(result) == [f"0 dead letters in {dead_letters.dlq}"]
    bad = cli(deployment, "list", "--since", "yesterday")
    assert bad.exit_code == 2 and "expected an ISO date/time" in bad.output


def test_replay_sends_exactly_the_selected_values(dead_letters, deployment) -> None:
    result = cli(deployment, "replay", "--reason", "bucket", "--reason", "S3 unavailable")
    assert result.exit_code == 0, result.output
    assert stdout_lines(result)[-1] == "replayed 2, not replayable 0"
    assert f"sent images/1@12 (batch) → {dead_letters.images} key {BATCH_KEY}" in result.stdout
    records = image_topic_records(dead_letters.images)
    # keyed by the image key inside each value, so an image keeps its partition
    assert sorted(records) == sorted([(IMAGE_KEY.encode(), IMAGE_VALUE), (BATCH_KEY.encode(), BATCH_VALUE)])


def test_replay_everything_skips_what_is_not_replayable(dead_letters, deployment) -> None:
    result = cli(deployment, "replay")
    assert result.exit_code == 0, result.output
    assert stdout_lines(result)[-1] == "replayed 3, not replayable 3"
    assert "not replayable: images/1@20 (gap): gap: offsets 20-29 vanished" in result.stderr
    assert (
        f"not replayable: images/1@13 (message): original value was 20000 bytes; only the first {MAX_MESSAGE_BYTES}"
        in result.stderr
    )
    assert "not replayable: dead-letter record 0@5: not a dead-letter record" in result.stderr
    records = image_topic_records(dead_letters.images)
    # a value that is not JSON keeps the dead letter's own key (source topic/partition@offset)
    assert sorted(records) == sorted(
        [(b"images/1@10", NOT_JSON), (IMAGE_KEY.encode(), IMAGE_VALUE), (BATCH_KEY.encode(), BATCH_VALUE)]
    )


def test_replay_twice_sends_twice(dead_letters, deployment) -> None:
    for _ in range(2):
        assert cli(deployment, "replay", "--kind", "batch").exit_code == 0
    assert image_topic_records(dead_letters.images) == [(BATCH_KEY.encode(), BATCH_VALUE)] * 2


def test_dry_run_sends_nothing(dead_letters, deployment) -> None:
    result = cli(deployment, "replay", "--dry-run", "--since", "1d")
    assert result.exit_code == 0, result.output
    assert stdout_lines(result)[-1] == "would replay 2, not replayable 2"
    assert (
        f"would send images/1@11 (message) → {dead_letters.images} key {IMAGE_KEY} ({len(IMAGE_VALUE)} bytes)"
        in result.stdout
    )
    assert "not replayable: images/1@20 (gap)" in result.stderr
    assert helpers.end_offsets(dead_letters.images) == {0: 0, 1: 0, 2: 0}


def test_gap_alone_is_not_replayable(dead_letters, deployment) -> None:
    result = cli(deployment, "replay", "--kind", "gap")
    assert result.exit_code == 0, result.output
    assert stdout_lines(result) == ["replayed 0, not replayable 1"]
    assert helpers.end_offsets(dead_letters.images) == {0: 0, 1: 0, 2: 0}


def test_replay_to_another_topic(dead_letters, deployment) -> None:
    result = cli(deployment, "replay", "--kind", "batch", "--to-topic", dead_letters.images)
    assert result.exit_code == 0
    missing = cli(deployment, "replay", "--kind", "batch", "--to-topic", "no-such-topic-here")
    assert missing.exit_code == 1 and "Kafka topic 'no-such-topic-here' does not exist" in missing.output
    into_itself = cli(deployment, "replay", "--to-topic", dead_letters.dlq)
    assert into_itself.exit_code == 1 and "refusing to replay into the dead-letter topic" in into_itself.output


def test_missing_topic_and_unreachable_kafka_are_clear_errors(topics, deployment) -> None:
    result = cli(deployment.with_values(kafka_dlq_topic="no-such-dead-letters"), "list")
    assert result.exit_code == 1
    assert "Error: Kafka topic 'no-such-dead-letters' does not exist at 127.0.0.1:" in result.output
    result = deployment.with_values(kafka_bootstrap_servers="127.0.0.1:1").cli("dlq", "--timeout", "1", "replay")
    assert result.exit_code == 1
    assert "Error: cannot reach Kafka at 127.0.0.1:1" in result.output


def test_python_api(dead_letters, deployment) -> None:
    settings = deployment.settings
    entries = list(dlq.read_dead_letters(settings, timeout=10))
    assert len(entries) == 6 and entries[-1].letter is None
    chosen = list(dlq.select(entries, dlq.Selection(kinds=("message",), since=dlq.parse_when("1d"))))
    assert [e.letter.offset if e.letter is not None else None for e in chosen] == [11, 13]
    report = dlq.replay(settings, chosen, timeout=10)
    assert (len(report.replayed), len(report.not_replayable)) == (1, 1)
    assert image_topic_records(dead_letters.images) == [(IMAGE_KEY.encode(), IMAGE_VALUE)]


def test_a_dead_letter_keeps_the_image_key_its_value_names() -> None:
    """The key a rejected message names is what a person searches the dead letters for: the sensor keeps it,
    whatever else is wrong with the message; values that name none leave it empty."""
    assert DeadLetter.build("bad bucket", "images", 1, 5, IMAGE_VALUE).image_key == IMAGE_KEY
    for value in (None, NOT_JSON, b"[" * 5000, b'{"key": 7}', b'["key"]', b'{"key": ""}'):
        assert DeadLetter.build("bad", "images", 1, 5, value).image_key is None


def test_replay_keys_by_the_image_key_the_value_names_else_by_the_letter() -> None:
    """A replayed value is keyed like the original message: by the image key it names; one that names none
    (not JSON, nested too deep to read) by its dead letter's own key, and still replayable."""
    for value, key in ((IMAGE_VALUE, IMAGE_KEY.encode()), (NOT_JSON, b"images/1@5"), (b"[" * 5000, b"images/1@5")):
        letter = DeadLetter.build("bad", "images", 1, 5, value)
        planned = dlq.plan(dlq.Entry(0, 0, letter.encode(), letter=letter))
        assert (planned.key, planned.value, planned.not_replayable) == (key, value, None)


def test_parse_when() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert dlq.parse_when("2h", now) == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert dlq.parse_when("7d", now) == datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    assert dlq.parse_when("90s", now) == datetime(2026, 11, 25, 11, 58, 30, tzinfo=UTC)
    assert dlq.parse_when("2026-11-25T04:00") == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert dlq.parse_when("2026-11-25T04:00:00Z") == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    assert dlq.parse_when("2026-11-25T06:00+02:00") == datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        dlq.parse_when("last tuesday")
