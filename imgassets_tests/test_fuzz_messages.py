"""Property-based tests of `messages.decode`: for any bytes it returns an ImageMessage or raises MessageError."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgassets.core import layout, messages
from imgassets.core.messages import ImageMessage, Source, VideoFrame
from imgassets_tests.fuzz_profile import fuzz_settings, regression_files

BUCKET = "imgassets"
SHA = "cd" * 32
NOW = datetime(2026, 11, 25, 4, 5, tzinfo=UTC)
VALID = json.loads(
    messages.encode(
        ImageMessage(
            bucket=BUCKET,
            key=layout.image_key(SHA, "dog.jpg", NOW),
            size=123,
            sha256=SHA,
            content_type="image/jpeg",
            uploaded_at=NOW,
            source=Source(
                path="/data/dog.jpg",
                host="vm-1",
                video_frame=VideoFrame(video="cam.mp4", frame_index=25, timestamp_s=1.0),
                name="cam-1",
                captured_at=NOW,
            ),
        )
    )
)


def check_decode(raw: bytes | None) -> ImageMessage | None:
    """The property: a message, or MessageError with a non-empty reason; and a message is self-consistent.
    Whatever the bytes, the key a dead letter of them shows is text or nothing."""
    named = messages.named_key(raw)
    assert named is None or isinstance(named, str)
    try:
        message = messages.decode(raw, BUCKET)
    except messages.MessageError as exc:
        assert str(exc), "a MessageError must carry a reason"
        return None
    assert isinstance(message, ImageMessage)
    assert message.bucket == BUCKET
    parsed = layout.parse_image_key(message.key)
    assert parsed.hour == layout.floor_hour(message.uploaded_at)
    offset = message.uploaded_at.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert messages.decode(messages.encode(message), BUCKET) == message, "encode/decode must round-trip"
    # A backfill has no message: what it knows of the image, it reads back from the S3 object's metadata.
    metadata = messages.object_metadata(message)
    assert all(name.isascii() and value.isascii() for name, value in metadata.items())
    assert messages.parse_object_metadata(metadata) == (message.uploaded_at, message.source)
    return message


@dataclass(frozen=True)
class LongNumber:
    """A JSON integer longer than Python's int/str conversion limit (4300 digits), kept as text."""

    digits: int
    negative: bool

    def json(self) -> bytes:
        return (b"-" if self.negative else b"") + b"9" * self.digits


huge_ints = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.integers(min_value=-(2**64), max_value=-(2**63) + 2),
    st.integers(min_value=10**300, max_value=10**310),
    st.builds(LongNumber, st.integers(min_value=4200, max_value=6000), st.booleans()),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(
        [
            "",
            "\x00",
            "\ud800",
            "2026-11-25T04:05:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-05:00",
            "9999-12-31T23:59:59+00:00",
            "1e999",
            "NaN",
            "images/2026/11/25/04/cdcdcdcdcdcd-dog.jpg\n",
            "images/2026/11/25/04/cdcdcdcdcdcd-dog.jpg",
            messages.IMAGE_SCHEMA,
        ]
    ),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(sorted(VALID))), children, max_size=5),
    ),
    max_leaves=25,
)


def _big_int_json(value: object) -> bytes:
    """JSON text of `value`, with LongNumber written as its digits and lone surrogates kept."""
    if isinstance(value, LongNumber):
        return value.json()
    if isinstance(value, bool) or value is None:
        return json.dumps(value).encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return json.dumps(value).encode()
    if isinstance(value, str):
        return json.dumps(value).encode("utf-8", "surrogatepass")
    if isinstance(value, list):
        return b"[" + b",".join(_big_int_json(v) for v in value) + b"]"
    assert isinstance(value, dict), value
    return b"{" + b",".join(_big_int_json(str(k)) + b":" + _big_int_json(v) for k, v in value.items()) + b"}"


def _repeated_to(piece: bytes, size: int) -> bytes:
    piece = piece or b" "
    return (piece * (size // len(piece) + 1))[:size]


#: Arbitrary bytes: short ones, and ones around the size limit (a short pattern repeated).
any_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(
        _repeated_to,
        st.binary(max_size=16),
        st.integers(min_value=messages.MAX_MESSAGE_BYTES - 2, max_value=messages.MAX_MESSAGE_BYTES + 2),
    ),
)


@fuzz_settings(400)
@given(any_bytes)
def test_any_bytes(raw: bytes) -> None:
    check_decode(raw)


@fuzz_settings(400)
@given(json_values)
def test_any_json_value(value: object) -> None:
    check_decode(_big_int_json(value))


@fuzz_settings(100)
@given(st.sampled_from(["[", '{"a":', '[{"schema":']), st.integers(min_value=500, max_value=5000))
def test_deeply_nested_json(opening: str, depth: int) -> None:
    check_decode((opening * depth).encode()[: messages.MAX_MESSAGE_BYTES])


#: UTC offsets in whole minutes (what ISO 8601 text can carry), -23:59 … +23:59.
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
#: Any datetime as ISO text (naive, UTC or any offset, years 1…9999) or as epoch seconds.
any_zone = st.one_of(st.none(), st.just(UTC), offsets)
timestamps = st.one_of(
    st.datetimes(timezones=any_zone).map(datetime.isoformat),
    # the first and last day of the calendar, where converting to UTC can leave it. Hypothesis' overloads have no
    # case for bounds with zones that may be None, which its implementation accepts.
    st.datetimes(max_value=datetime(1, 1, 1, 12), timezones=any_zone).map(datetime.isoformat),  # type: ignore[arg-type]
    st.datetimes(min_value=datetime(9999, 12, 31, 12), timezones=any_zone).map(datetime.isoformat),  # type: ignore[arg-type]
    st.integers(min_value=-(2**40), max_value=2**40),
)


def _set_path(message: dict, path: tuple[str, ...], value: object) -> dict:
    target = message
    for part in path[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[path[-1]] = value
    return message


FIELDS = (
    [(k,) for k in VALID]
    + [("source", k) for k in VALID["source"]]
    + [("source", "video_frame", k) for k in VALID["source"]["video_frame"]]
)


@st.composite
def near_valid_messages(draw: st.DrawFn) -> bytes:
    """A valid message with a few fields removed, replaced by arbitrary JSON, or slightly edited."""
    message = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(FIELDS))
        action = draw(st.sampled_from(["remove", "replace", "edit-text", "extra-key", "timestamp"]))
        if action == "remove":
            parent = message
            for part in path[:-1]:
                parent = parent.get(part) if isinstance(parent.get(part), dict) else {}
            parent.pop(path[-1], None)
        elif action == "replace":
            _set_path(message, path, draw(json_values))
        elif action == "edit-text":
            parent = message
            for part in path[:-1]:
                parent = parent.get(part) if isinstance(parent.get(part), dict) else {}
            text = str(parent.get(path[-1], ""))
            index = draw(st.integers(min_value=0, max_value=len(text)))
            insert = draw(
                st.one_of(st.text(max_size=3), st.sampled_from(["\n", "٣", "/", "..", "\x00", "Z", "+25:00", "-23:59"]))
            )
            cut = draw(st.integers(min_value=0, max_value=2))
            _set_path(message, path, text[:index] + insert + text[index + cut :])
        elif action == "timestamp":  # the upload time, or the capture time
            _set_path(message, ("uploaded_at",) if draw(st.booleans()) else ("source", "captured_at"), draw(timestamps))
        else:
            _set_path(message, path[:-1] + (draw(st.text(max_size=8)),), draw(json_values))
    return _big_int_json(message)


@fuzz_settings(300)
@given(timestamps)
def test_any_upload_time(uploaded_at: object) -> None:
    message = json.loads(json.dumps(VALID))
    message["uploaded_at"] = uploaded_at
    check_decode(json.dumps(message).encode())


@fuzz_settings(600)
@given(near_valid_messages())
def test_near_valid_messages(raw: bytes) -> None:
    check_decode(raw)


def test_unedited_message_decodes() -> None:
    assert check_decode(json.dumps(VALID).encode()) is not None


@pytest.mark.parametrize("path", regression_files("messages"), ids=lambda p: p.name)
def test_regressions(path: Path) -> None:
    check_decode(path.read_bytes())
