import json
from datetime import UTC, datetime

import pytest

from imgassets.core import layout, messages
from imgassets.core.messages import ImageMessage, Source, VideoFrame

NOW = datetime(2026, 11, 25, 4, 5, tzinfo=UTC)
SHA = "cd" * 32


def _message(**changes: object) -> dict:
    base = ImageMessage(
        bucket="imgassets",
        key=layout.image_key(SHA, "dog.jpg", NOW),
        size=123,
        sha256=SHA,
        content_type="image/jpeg",
        uploaded_at=NOW,
        source=Source(path="/data/dog.jpg", video_frame=VideoFrame(video="cam.mp4", frame_index=25, timestamp_s=1.0)),
    )
    data = json.loads(messages.encode(base))
    data.update(changes)
    return data


def test_round_trip() -> None:
    raw = json.dumps(_message()).encode()
    decoded = messages.decode(raw, "imgassets")
    assert decoded.partition == "2026-11-25-04:00"
    assert decoded.source.video_frame is not None
    assert decoded.source.video_frame.frame_index == 25
    assert json.loads(messages.encode(decoded))["schema"] == messages.IMAGE_SCHEMA


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"schema": "imgassets.image.v2"}).encode(), "unknown schema"),
        (json.dumps({"schema": messages.IMAGE_SCHEMA, "key": "x"}).encode(), "invalid message"),
        (json.dumps(_message(bucket="someone-else")).encode(), "bucket 'someone-else'"),
        (json.dumps(_message(key="images/2026/11/25/04/../../../etc/passwd")).encode(), "not an image key"),
        (json.dumps(_message(key="/etc/passwd")).encode(), "not an image key"),
        (json.dumps(_message(uploaded_at="2026-11-25T04:05:00")).encode(), "UTC offset"),
        (json.dumps(_message(uploaded_at="2026-11-25T07:05:00Z")).encode(), "key hour does not match"),
        (json.dumps(_message(sha256="ef" * 32)).encode(), "hash prefix does not match"),
        (json.dumps(_message(extra="x")).encode(), "Extra inputs"),
        (b"{" + b" " * messages.MAX_MESSAGE_BYTES + b"}", "message too large"),
        (None, "tombstone"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 5000, "not JSON: nested too deeply"),
        (b"9" * 4301, "not JSON: Exceeds the limit"),
        (
            json.dumps(_message(uploaded_at="0001-01-01T00:00:00+00:01")).encode(),
            "OverflowError: date value out of range",
        ),
    ],
)
def test_bad_messages_get_specific_reasons(raw: bytes | None, reason: str) -> None:
    with pytest.raises(messages.MessageError, match=reason):
        messages.decode(raw, "imgassets")


def test_dead_letter_keeps_original_bytes_bounded() -> None:
    letter = messages.DeadLetter.build("bad", "images", 2, 17, b"x" * (messages.MAX_MESSAGE_BYTES * 3))
    data = json.loads(letter.encode())
    assert data["schema"] == messages.DEADLETTER_SCHEMA
    assert data["value_size"] == messages.MAX_MESSAGE_BYTES * 3
    assert (data["partition"], data["offset"], data["reason"]) == (2, 17, "bad")


def test_object_metadata_round_trip_with_unicode() -> None:
    message = messages.decode(
        json.dumps(_message(source={"path": "/fotos/Mädchen 1.jpg", "host": "cam-ü"})).encode(), "imgassets"
    )
    metadata = messages.object_metadata(message)
    assert all(value.isascii() for value in metadata.values())
    uploaded_at, source = messages.parse_object_metadata(metadata)
    assert uploaded_at == NOW
    assert source is not None and source.path == "/fotos/Mädchen 1.jpg" and source.host == "cam-ü"
    assert messages.parse_object_metadata({"uploaded-at": "garbage"}) == (None, None)


def test_object_metadata_keeps_the_source_name() -> None:
    """`ingest --source cam-2`: the name is what a backfill and a sensor run read back, so it must survive."""
    source = {"path": "/data/dog.jpg", "host": "vm", "name": "cam-2"}
    message = messages.decode(json.dumps(_message(source=source)).encode(), "imgassets")
    _, stored = messages.parse_object_metadata(messages.object_metadata(message))
    assert stored is not None and stored.name == "cam-2" and stored.label == "cam-2"


def test_a_foreign_source_name_in_metadata_is_dropped_not_the_rest() -> None:
    """An object another tool uploaded may carry a name this product would refuse: the upload time stays."""
    uploaded_at, source = messages.parse_object_metadata(
        {"uploaded-at": NOW.isoformat(), "source-path": "/x.jpg", "source-name": "no spaces allowed"}
    )
    assert uploaded_at == NOW and source is not None and source.name is None and source.path == "/x.jpg"
