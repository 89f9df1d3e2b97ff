"""The Kafka sensor against the real broker: batching per hour, cursor, dead letters, replays."""

import inspect
import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import ConfigurableResource, DagsterInstance, SkipReason, build_sensor_context

from imgassets.core import layout, messages
from imgassets.defs.kafka_sensor import Cursor, minimum_interval, run_requests
from imgassets_tests import helpers

pytestmark = pytest.mark.integration


def _message(name: str, uploaded_at: datetime, bucket: str = "imgassets") -> bytes:
    digest = (name.encode().hex() * 64)[:64]
    return messages.encode(
        messages.ImageMessage(
            bucket=bucket,
            key=layout.image_key(digest, name, uploaded_at),
            size=10,
            sha256=digest,
            content_type="image/jpeg",
            uploaded_at=uploaded_at,
            source=messages.Source(path=f"/in/{name}"),
        )
    )


def _evaluate(
    deployment: helpers.Deployment,
    cursor: str | None,
    instance: DagsterInstance | None = None,
    **resources: ConfigurableResource,
):
    context = build_sensor_context(
        cursor=cursor, resources=deployment.resources(**resources), instance=instance or DagsterInstance.ephemeral()
    )
    return helpers.SENSOR(context)


def test_groups_by_hour_dead_letters_bad_messages_and_advances_cursor(topics, bucket, deployment) -> None:
    now = datetime.now(UTC)
    previous_hour = now - timedelta(hours=1)
    producer = deployment.producer()
    good = [_message(f"img{i}.jpg", now, bucket) for i in range(7)]
    old = [_message(f"old{i}.jpg", previous_hour, bucket) for i in range(3)]
    bad = [
        b"not json",
        json.dumps({"schema": "imgassets.image.v9"}).encode(),
        _message("elsewhere.jpg", now, "another-bucket"),
        _message("future.jpg", now + timedelta(hours=3), bucket),
    ]
    for value in good + old + bad:
        producer.send(topics.images, value=value)
    producer.flush()
    producer.close()

    result = _evaluate(deployment, None)
    requests = result.run_requests
    by_partition = {r.partition_key: r for r in requests}
    assert set(by_partition) == {layout.partition_key(now), layout.partition_key(previous_hour)}
    batch = by_partition[layout.partition_key(now)].run_config["ops"]["raw_images"]["config"]["images"]
    assert sorted(ref["key"].rsplit("-", 1)[-1] for ref in batch) == sorted(f"img{i}.jpg" for i in range(7))
    assert all(ref["topic"] == topics.images and ref["offset"] >= 0 for ref in batch)

    dead = helpers.read_all(topics.dlq)
    reasons = sorted(d["reason"] for d in dead)
    assert len(dead) == 4
    assert any(r.startswith("not JSON") for r in reasons)
    assert any("unknown schema" in r for r in reasons)
    assert any("another-bucket" in r for r in reasons)
    assert any("outside the partitions" in r for r in reasons)

    cursor = Cursor.parse(result.cursor)
    assert cursor.offsets == helpers.end_offsets(topics.images)

    # Nothing new: skip, and the cursor stays where it is.
    again = _evaluate(deployment, result.cursor)
    assert isinstance(again, SkipReason)

    # A replayed tick (same cursor) asks for the same runs: Dagster de-duplicates by run key.
    replay = _evaluate(deployment, None)
    assert sorted(r.run_key for r in replay.run_requests) == sorted(r.run_key for r in requests)


def test_large_hour_is_split_into_bounded_batches(topics, bucket, deployment) -> None:
    now = datetime.now(UTC)
    producer = deployment.producer()
    for i in range(10):
        producer.send(topics.images, value=_message(f"n{i}.jpg", now, bucket))
    producer.flush()
    producer.close()
    result = _evaluate(deployment, None, pipeline=deployment.pipeline(batch_max_images=4))
    sizes = sorted(len(r.run_config["ops"]["raw_images"]["config"]["images"]) for r in result.run_requests)
    assert sum(sizes) == 10 and max(sizes) <= 4
    assert len({r.run_key for r in result.run_requests}) == len(result.run_requests)


def test_the_sensor_ticks_in_every_loop_of_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster ticks a sensor when its minimum interval has passed since the last tick started, a moment after the
    daemon's sensor loop began: a minimum equal to the loop's period skipped every other loop (10 s apart with
    Dagster's 5 s loop, measured). The local stack's daemon (imgassets/stack/daemon.py) loops at the interval."""
    import dagster._daemon.backfill as backfill_daemon
    import dagster._daemon.controller as controller
    import dagster._daemon.sensor as sensor_daemon

    from imgassets.core.settings import get_settings
    from imgassets.defs.kafka_sensor import kafka_image_sensor
    from imgassets.defs.partitions import hourly_partitions
    from imgassets.stack import daemon

    settings = get_settings()
    interval = settings.sensor_interval_seconds
    sensor = kafka_image_sensor(hourly_partitions(settings.partitions_start), interval)
    assert sensor.minimum_interval_seconds is not None
    assert sensor.minimum_interval_seconds < interval  # every loop
    for seconds in (1, 5, 10, 60, 3600):  # the loop that comes `seconds` after the last tick
        assert seconds - 1 <= minimum_interval(seconds) < seconds

    # The daemon's loop period is the constant Dagster's loop reads; the wrapper sets it, then runs Dagster's CLI.
    ran: list[list[str]] = []
    monkeypatch.setattr("dagster._daemon.cli.main", lambda: ran.append(sys.argv))
    monkeypatch.setattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME", sensor_daemon.MIN_INTERVAL_LOOP_TIME)
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)
    monkeypatch.setattr(sys, "argv", sys.argv)
    daemon.main(["run", "-w", "workspace.yaml"])
    assert interval == sensor_daemon.MIN_INTERVAL_LOOP_TIME
    # The backfill loop reads Dagster's default daemon interval when it starts: the wrapper sets that too.
    assert get_settings().backfill_interval_seconds == controller.DEFAULT_DAEMON_INTERVAL_SECONDS
    assert "DEFAULT_DAEMON_INTERVAL_SECONDS" in inspect.getsource(backfill_daemon.execute_backfill_iteration_loop)
    assert ran == [["dagster-daemon", "run", "-w", "workspace.yaml"]]


def test_run_keys_name_their_offsets() -> None:
    from imgassets.defs.batch import ImageRef

    refs = [ImageRef(key=f"k{i}", topic="images", partition=i % 2, offset=10 + i) for i in range(4)]
    (request,) = run_requests("images", {"2026-11-25-04:00": refs}, 100)
    assert request.run_key == "images/0:10-12,1:11-13/2026-11-25-04:00"


def _tick_after(deployment: helpers.Deployment, values: list[bytes], topic: str, cursor: str | None = None):
    producer = deployment.producer()
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()
    return _evaluate(deployment, cursor)


def test_poison_messages_cost_only_themselves(topics, bucket, deployment) -> None:
    """A 10 KB message of nested brackets (json raises RecursionError, not a decode error) used to fail every
    tick and pin the cursor. Now every poison message is dead-lettered with its exception and the good ones in
    the same tick and partition still make their batch."""
    now = datetime.now(UTC)
    good = [_message(f"ok{i}.jpg", now, bucket) for i in range(5)]
    poison = [
        b"[" * 10_000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        json.dumps({"schema": "imgassets.image.v1", "bucket": bucket, "key": ["list"], "size": 1e400}).encode(),
        b"\xff\xfe\x00garbage",
    ]
    result = _tick_after(deployment, [good[0], *poison[:2], *good[1:3], *poison[2:], *good[3:]], topics.images)
    refs = [ref for r in result.run_requests for ref in r.run_config["ops"]["raw_images"]["config"]["images"]]
    assert sorted(ref["key"].rsplit("-", 1)[-1] for ref in refs) == sorted(f"ok{i}.jpg" for i in range(5))
    dead = helpers.read_all(topics.dlq)
    assert len(dead) == len(poison) and {d["kind"] for d in dead} == {"message"}
    assert all(d["reason"] for d in dead)
    assert Cursor.parse(result.cursor).offsets == helpers.end_offsets(topics.images)


def test_a_recreated_topic_is_a_recorded_gap_and_its_new_messages_are_read(topics, bucket, deployment) -> None:
    """The cursor expects offsets the partition no longer has (the topic was deleted and created again): a gap
    dead letter says so, and the new topic's messages are read from its beginning instead of being skipped."""
    now = datetime.now(UTC)
    ahead = Cursor({0: 500, 1: 500, 2: 500}).serialize()
    result = _tick_after(deployment, [_message(f"new{i}.jpg", now, bucket) for i in range(4)], topics.images, ahead)
    refs = [ref for r in result.run_requests for ref in r.run_config["ops"]["raw_images"]["config"]["images"]]
    assert len(refs) == 4
    gaps = [d for d in helpers.read_all(topics.dlq) if d["kind"] == "gap"]
    assert sorted(g["partition"] for g in gaps) == [0, 1, 2]
    assert all("recreated" in g["reason"] and g["offset"] == 500 for g in gaps)


def test_offsets_deleted_by_retention_are_a_recorded_gap(topics, bucket, deployment) -> None:
    """Records deleted before the sensor read them (what retention does) are never skipped silently."""
    from kafka import KafkaAdminClient, TopicPartition

    from imgassets.core import kafka_io

    now = datetime.now(UTC)
    producer = deployment.producer()
    for i in range(6):
        producer.send(topics.images, key=b"same-partition", value=_message(f"gone{i}.jpg", now, bucket))
    producer.flush()
    producer.close()
    (partition,) = [p for p, end in helpers.end_offsets(topics.images).items() if end == 6]
    admin = KafkaAdminClient(**kafka_io.settings_client_config(deployment.settings))
    try:
        admin.delete_records({TopicPartition(topics.images, partition): 4})
    finally:
        admin.close()
    result = _evaluate(deployment, Cursor({partition: 1}).serialize())
    refs = [ref for r in result.run_requests for ref in r.run_config["ops"]["raw_images"]["config"]["images"]]
    assert sorted(ref["offset"] for ref in refs) == [4, 5]
    (gap,) = helpers.read_all(topics.dlq)
    assert (gap["kind"], gap["partition"], gap["offset"], gap["last_offset"]) == ("gap", partition, 1, 3)
    assert "retention" in gap["reason"]


def test_any_value_on_the_topic_ends_in_a_batch_or_the_dead_letter_topic(topics, bucket, deployment) -> None:
    """The sensor's per-message path over generated values (arbitrary bytes, arbitrary JSON, near-valid messages)
    and every saved message regression, through the real broker: each tick succeeds, and every value read is
    either in a run's batch or dead-lettered, exactly once."""
    from hypothesis import given
    from hypothesis import strategies as st

    from imgassets_tests.fuzz_profile import fuzz_settings, regression_files

    now = datetime.now(UTC)
    valid = json.loads(_message("base.jpg", now, bucket))
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=12,
    )
    near_valid = st.builds(
        lambda field, value: json.dumps(valid | {field: value}, default=str).encode(),
        st.sampled_from(sorted(valid)),
        json_values,
    )
    values = st.lists(
        st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()) | near_valid,
        min_size=20,
        max_size=40,
    )
    state: dict[str, Any] = {"cursor": None, "sent": 0, "batched": 0}

    @fuzz_settings(examples=3)
    @given(values=values)
    def tick_over(values: list[bytes]) -> None:
        good = [_message(f"g{state['sent']}-{i}.jpg", now, bucket) for i in range(3)]
        result = _tick_after(deployment, [*values, *good], topics.images, state["cursor"])
        refs = [ref for r in result.run_requests for ref in r.run_config["ops"]["raw_images"]["config"]["images"]]
        state["cursor"] = result.cursor
        state["sent"] += len(values) + len(good)
        state["batched"] += len(refs)
        assert {json.loads(value)["key"] for value in good} <= {ref["key"] for ref in refs}

    tick_over()
    saved = [path.read_bytes() for path in regression_files("messages")]
    result = _tick_after(deployment, saved, topics.images, state["cursor"])
    state["sent"] += len(saved)
    state["batched"] += sum(len(r.run_config["ops"]["raw_images"]["config"]["images"]) for r in result.run_requests)
    dead = helpers.read_all(topics.dlq)
    assert state["batched"] + len(dead) == state["sent"], state | {"dead": len(dead)}
    assert Cursor.parse(result.cursor).offsets == helpers.end_offsets(topics.images)


def test_an_idle_pipeline_answers_a_backlog_with_a_small_first_run(topics, bucket, deployment) -> None:
    """No run in progress: the first run of the hour takes `batch_first_images`, the rest `batch_max_images`; with
    runs in progress, batches stay large."""
    from dagster import DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test

    from imgassets.defs.batch import ImageRef
    from imgassets.defs.jobs import image_batch_job
    from imgassets.defs.kafka_sensor import _chunks

    now = datetime.now(UTC)
    result = _tick_after(deployment, [_message(f"b{i}.jpg", now, bucket) for i in range(130)], topics.images)
    sizes = [len(r.run_config["ops"]["raw_images"]["config"]["images"]) for r in result.run_requests]
    assert sizes == [50, 80]
    # A run in progress: the next backlog goes in one large batch.
    busy = DagsterInstance.ephemeral()
    create_run_for_test(busy, job_name=image_batch_job.name, status=DagsterRunStatus.STARTED)
    producer = deployment.producer()
    for i in range(130):
        producer.send(topics.images, value=_message(f"c{i}.jpg", now, bucket))
    producer.flush()
    producer.close()
    result = _evaluate(deployment, result.cursor, busy)
    assert [len(r.run_config["ops"]["raw_images"]["config"]["images"]) for r in result.run_requests] == [130]
    refs = [ImageRef(key=f"k{i}") for i in range(10)]
    assert [len(c) for c in _chunks(refs, 4, None)] == [4, 4, 2]
    assert [len(c) for c in _chunks(refs, 4, 3)] == [3, 4, 3]
    assert [len(c) for c in _chunks(refs, 4, 9)] == [4, 4, 2]
    assert _chunks([], 4, 3) == []


def test_ticks_share_one_standing_consumer_and_a_failed_tick_drops_it(topics, bucket, deployment) -> None:
    from imgassets.core import kafka_io

    config = kafka_io.settings_client_config(deployment.settings)
    with kafka_io.standing_consumer(config) as first:
        pass
    with kafka_io.standing_consumer(config) as again, kafka_io.standing_consumer(config) as concurrent:
        assert again is first  # the next tick borrows the same consumer: no new connection, probe, metadata
        assert concurrent is not first  # a tick running at the same time gets its own
    with pytest.raises(RuntimeError), kafka_io.standing_consumer(config) as failing:
        raise RuntimeError("the tick failed")
    with kafka_io.standing_consumer(config) as after:
        assert after is not failing  # a consumer that saw a failure is closed, never lent again

    # The standing consumer reads each tick from that tick's cursor.
    now = datetime.now(UTC)
    producer = deployment.producer()
    keys, cursor = [], None
    for name in ("first.jpg", "second.jpg"):
        producer.send(topics.images, value=_message(name, now, bucket))
        producer.flush()
        result = _evaluate(deployment, cursor)
        cursor = result.cursor
        (request,) = result.run_requests
        keys.append(
            [ref["key"].rsplit("-", 1)[-1] for ref in request.run_config["ops"]["raw_images"]["config"]["images"]]
        )
    producer.close()
    assert keys == [["first.jpg"], ["second.jpg"]]
