"""Property-based tests of the key layout: building then parsing round-trips, and parsing accepts only the
canonical form (what the builders produce), raising nothing but InvalidKey for any other string."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgassets.core import layout
from imgassets_tests.fuzz_profile import fuzz_settings, regression_files

sha256s = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
#: Any UTC offset a datetime can carry (whole minutes and odd seconds alike).
offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)).map(
    timezone
)
aware_datetimes = st.datetimes(timezones=st.one_of(st.just(UTC), offsets))
names = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="ascii")),
    st.sampled_from(["..", ".", "/", "a/../b.jpg", "٣.jpg", "x\n.jpg", "C:\\a\\b.PNG", ".jpg", "-_.-_"]),
)
#: Characters that break keys: separators, traversal, whitespace, non-ASCII digits and letters.
nasty = st.one_of(
    st.characters(),
    st.sampled_from(
        [
            "\n",
            "\r",
            "\x00",
            " ",
            "/",
            "//",
            "..",
            "0",
            "1",
            "3",
            "9",
            "٣",
            "１",
            "߀",
            "ß",
            "K",
            "\u212a",
            "-",
            ".",
            "_",
        ]
    ),
)


def _utc_hour(moment: datetime) -> datetime | None:
    """The UTC hour of `moment`, or None when it falls outside datetime's range (year 1 … 9999)."""
    try:
        return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    except OverflowError:
        return None


def check_parse_image_key(key: object) -> layout.ImageKey | None:
    """parse_image_key: InvalidKey, or a parse whose key is canonical (re-builds to itself)."""
    try:
        # `key` may be any JSON value (a regression file's argument): the parser must refuse a non-string too.
        parsed = layout.parse_image_key(key)  # type: ignore[arg-type]
    except layout.InvalidKey:
        return None
    assert isinstance(key, str) and parsed.key == key
    assert key.isascii() and "\n" not in key and "\r" not in key and ".." not in key
    hour_path = f"{parsed.hour.year:04d}/{parsed.hour.month:02d}/{parsed.hour.day:02d}/{parsed.hour.hour:02d}"
    assert key == f"images/{hour_path}/{parsed.file}"
    assert key.startswith(layout.images_prefix(parsed.partition))
    assert parsed.detection_key == f"detections/{hour_path}/{parsed.file}.json"
    return parsed


def check_parse_partition(text: object) -> datetime | None:
    try:
        hour = layout.parse_partition(text)  # type: ignore[arg-type]  # any JSON value, as above
    except layout.InvalidKey:
        return None
    assert layout.partition_key(hour) == text, "only the canonical partition key is accepted"
    return hour


def check_partition_of_summary_key(key: object) -> str | None:
    try:
        partition = layout.partition_of_summary_key(key)  # type: ignore[arg-type]  # any JSON value, as above
    except layout.InvalidKey:
        return None
    assert layout.summary_key(partition) == key, "only the canonical summary key is accepted"
    return partition


def check_image_key_round_trip(sha: str, name: str, uploaded_at: datetime) -> None:
    hour = _utc_hour(uploaded_at)
    if hour is None:
        with pytest.raises(ValueError, match="out of range"):
            layout.image_key(sha, name, uploaded_at)
        return
    key = layout.image_key(sha, name, uploaded_at)
    parsed = check_parse_image_key(key)
    assert parsed is not None, f"image_key built a key parse_image_key refuses: {key!r}"
    assert parsed.hour == hour == layout.floor_hour(uploaded_at)
    assert parsed.file.startswith(sha[:12] + "-")
    assert parsed.partition == layout.partition_key(uploaded_at)


def check_partition_round_trip(moment: datetime) -> None:
    hour = _utc_hour(moment)
    if hour is None:
        with pytest.raises(ValueError, match="out of range"):
            layout.partition_key(moment)
        return
    partition = layout.partition_key(moment)
    assert check_parse_partition(partition) == hour
    assert check_partition_of_summary_key(layout.summary_key(partition)) == partition
    assert layout.images_prefix(partition) == f"images/{hour.year:04d}/{hour.month:02d}/{hour.day:02d}/{hour.hour:02d}/"


@fuzz_settings(300)
@given(sha256s, names, aware_datetimes)
def test_image_key_round_trips(sha: str, name: str, uploaded_at: datetime) -> None:
    check_image_key_round_trip(sha, name, uploaded_at)


@fuzz_settings(300)
@given(aware_datetimes)
def test_partition_and_summary_keys_round_trip(moment: datetime) -> None:
    check_partition_round_trip(moment)


@st.composite
def mutated_image_keys(draw: st.DrawFn) -> str:
    key = layout.image_key(draw(sha256s), draw(names), draw(aware_datetimes.filter(lambda d: _utc_hour(d) is not None)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        index = draw(st.integers(min_value=0, max_value=len(key)))
        action = draw(st.sampled_from(["insert", "replace", "delete", "append"]))
        piece = draw(nasty)
        if action == "insert":
            key = key[:index] + piece + key[index:]
        elif action == "replace":
            key = key[:index] + piece + key[index + 1 :]
        elif action == "delete":
            key = key[:index] + key[index + 1 :]
        else:
            key += piece
    return key


@fuzz_settings(1000)
@given(mutated_image_keys())
def test_mutated_image_keys_are_refused_or_canonical(key: str) -> None:
    check_parse_image_key(key)


@fuzz_settings(300)
@given(st.one_of(st.text(), st.text(alphabet="0123456789/-:.\nimagesumr٣", max_size=40)))
def test_parsers_raise_only_invalid_key(text: str) -> None:
    check_parse_image_key(text)
    check_parse_partition(text)
    check_partition_of_summary_key(text)
    check_parse_image_key("images/" + text)
    check_partition_of_summary_key("summaries/" + text)


@st.composite
def mutated_partitions(draw: st.DrawFn) -> str:
    text = layout.partition_key(draw(aware_datetimes.filter(lambda d: _utc_hour(d) is not None)))
    index = draw(st.integers(min_value=0, max_value=len(text)))
    cut = draw(st.integers(min_value=0, max_value=1))
    return text[:index] + draw(st.one_of(st.just(""), nasty)) + text[index + cut :]


@fuzz_settings(500)
@given(mutated_partitions())
def test_mutated_partitions_and_summary_keys(partition: str) -> None:
    check_parse_partition(partition)
    hour_path = partition.replace("-", "/", 3).split(":")[0]
    check_partition_of_summary_key(f"summaries/{hour_path}.json")
    check_partition_of_summary_key(f"summaries/{hour_path}.json\n")


@fuzz_settings(300)
@given(
    st.one_of(
        st.text(max_size=70), sha256s.map(lambda s: s + "\n"), st.text(alphabet="abcdef0123456789\n٣", max_size=66)
    )
)
def test_run_ids_and_hashes_outside_the_alphabet_are_refused(text: str) -> None:
    for build in (lambda: layout.manifest_key("2026-11-25-04:00", text), lambda: layout.ingest_marker_key(text)):
        try:
            key = build()
        except layout.InvalidKey:
            continue
        assert key.isascii() and "\n" not in key and "/" not in text and ".." not in text


CHECKS: dict[str, Callable[..., object]] = {
    "parse_image_key": check_parse_image_key,
    "parse_partition": check_parse_partition,
    "partition_of_summary_key": check_partition_of_summary_key,
    "image_key": check_image_key_round_trip,
    "partition_key": check_partition_round_trip,
}


@pytest.mark.parametrize("path", regression_files("layout"), ids=lambda p: p.name)
def test_regressions(path: Path) -> None:
    """Each file is a JSON object {"check": <name in CHECKS>, "args": [...]}; "datetime:<ISO 8601>" is a datetime."""
    case = json.loads(path.read_text(encoding="utf-8"))
    args = [
        datetime.fromisoformat(a[len("datetime:") :]) if isinstance(a, str) and a.startswith("datetime:") else a
        for a in case["args"]
    ]
    CHECKS[case["check"]](*args)
