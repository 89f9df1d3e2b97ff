"""Kafka message schemas: the image announcement (v1) and the dead-letter envelope.

Producers (`imgassets ingest`) and the consumer (the Kafka sensor) both go through `encode`/`decode`, so a
message is validated on both ends. The Kafka message key is the image key: one image, one partition.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Final, Literal
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from imgassets.core import layout

IMAGE_SCHEMA: Final = "imgassets.image.v1"
DEADLETTER_SCHEMA: Final = "imgassets.deadletter.v1"
MAX_MESSAGE_BYTES = 16 * 1024


class MessageError(ValueError):
    """A message that cannot be processed; `str(exc)` is the reason recorded in the dead-letter topic."""


class VideoFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    video: str = Field(max_length=1024)
    frame_index: int = Field(ge=0)
    timestamp_s: float = Field(ge=0)


#: What a camera or site id may be: short, and safe in URLs, file names and SQL literals alike.
SOURCE_NAME_PATTERN = f"^{layout.SOURCE_NAME.pattern}$"
UNKNOWN_SOURCE = "unknown"


class Source(BaseModel):
    """Where the image came from before upload: the camera or site (`name`, what analytics group by) and the
    file (provenance only; never used to build keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(max_length=1024)
    host: str | None = Field(None, max_length=255)
    video_frame: VideoFrame | None = None
    #: Camera or site id (`imgassets ingest --source`). Optional: messages written before it existed have none.
    name: str | None = Field(None, pattern=SOURCE_NAME_PATTERN)
    #: When the photo or frame was taken (imgassets/core/capture_time.py), what tracks order frames by; absent, the
    #: upload time stands in.
    captured_at: datetime | None = None

    @field_validator("captured_at")
    @classmethod
    def _captured_utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("captured_at must carry a UTC offset")
        return value.astimezone(UTC) if value is not None else None

    @property
    def label(self) -> str:
        """The name analytics group by: the source's name, else its host, else "unknown"."""
        return self.name or self.host or UNKNOWN_SOURCE


class ImageMessage(BaseModel):
    """'This image is in S3 and ready': sent once per image, only after its upload succeeded."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_: Literal["imgassets.image.v1"] = Field(IMAGE_SCHEMA, alias="schema")
    bucket: str = Field(min_length=3, max_length=63)
    key: str
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str = Field(max_length=100, pattern=r"^[\w.+-]+/[\w.+-]+$")
    uploaded_at: datetime
    source: Source

    @field_validator("key")
    @classmethod
    def _our_key(cls, key: str) -> str:
        layout.parse_image_key(key)
        return key

    @field_validator("uploaded_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("uploaded_at must carry a UTC offset")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _key_matches_content(self) -> ImageMessage:
        parsed = layout.parse_image_key(self.key)
        if parsed.hour != layout.floor_hour(self.uploaded_at):
            raise ValueError("key hour does not match uploaded_at")
        if not parsed.file.startswith(self.sha256[:12]):
            raise ValueError("key hash prefix does not match sha256")
        return self

    @property
    def partition(self) -> str:
        return layout.partition_key(self.uploaded_at)


def encode(message: ImageMessage) -> bytes:
    return message.model_dump_json(by_alias=True).encode()


def decode(raw: bytes | None, expected_bucket: str) -> ImageMessage:
    """Parses and validates one Kafka message value; raises `MessageError` with a specific reason.

    Nothing else escapes, whatever the bytes: an unexpected exception (a validator tripping over an extreme
    value, say) becomes a MessageError naming it, so the sensor dead-letters the message instead of failing.
    """
    try:
        if raw is None:
            raise MessageError("empty message (tombstone)")
        if len(raw) > MAX_MESSAGE_BYTES:
            raise MessageError(f"message too large: {len(raw)} bytes > {MAX_MESSAGE_BYTES}")
        try:
            data = json.loads(raw)
        except RecursionError:
            raise MessageError("not JSON: nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, integers beyond 4300 digits
            raise MessageError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise MessageError("not a JSON object")
        if data.get("schema") != IMAGE_SCHEMA:
            raise MessageError(f"unknown schema {str(data.get('schema'))[:100]!r}, expected {IMAGE_SCHEMA!r}")
        try:
            message = ImageMessage.model_validate(data)
        except ValidationError as exc:
            details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'message'}: {e['msg']}" for e in exc.errors())
            raise MessageError(f"invalid message: {details}") from None
        if message.bucket != expected_bucket:
            raise MessageError(f"image is in bucket {message.bucket!r}, this pipeline reads {expected_bucket!r}")
        return message
    except MessageError:
        raise
    except Exception as exc:
        raise MessageError(f"{type(exc).__name__}: {exc}") from None


class DeadLetter(BaseModel):
    """What lands on the dead-letter topic: the original bytes plus why and where they failed.

    kind: `message` (the sensor could not use it), `batch` (its run failed for good after every retry and
    re-request; `run_id` names it), `gap` (offsets `offset` … `last_offset` vanished from Kafka before they
    were read: retention or a recreated topic; no value).
    """

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["imgassets.deadletter.v1"] = Field(DEADLETTER_SCHEMA, alias="schema")
    kind: Literal["message", "batch", "gap"] = "message"
    reason: str
    topic: str
    partition: int
    offset: int
    last_offset: int | None = None
    failed_at: datetime
    image_key: str | None = None
    run_id: str | None = None
    value_size: int | None
    value_base64: str | None = Field(description="the original value, cut to MAX_MESSAGE_BYTES")

    @classmethod
    def build(
        cls,
        reason: str,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        **extra: object,
    ) -> DeadLetter:
        named = named_key(value)
        return cls(
            reason=reason[:2000],
            topic=topic,
            partition=partition,
            offset=offset,
            failed_at=datetime.now(UTC),
            value_size=None if value is None else len(value),
            value_base64=None if value is None else base64.b64encode(value[:MAX_MESSAGE_BYTES]).decode(),
            **({"image_key": named[:MAX_NAMED_KEY] if named else None} | extra),
        )

    @property
    def named_image_key(self) -> str | None:
        """The image the letter stands for: its `image_key`, else the key its value names (letters written
        before the sensor kept it)."""
        return self.image_key or named_key(self.value)

    @property
    def kafka_key(self) -> bytes:
        """The dead letter's Kafka key names the message it stands for, so a repeated write is recognisable."""
        return f"{self.topic}/{self.partition}@{self.offset}".encode()

    @property
    def value(self) -> bytes | None:
        """The original message value (None for gaps, and for values cut because they were too large)."""
        if self.value_base64 is None or (self.value_size or 0) > MAX_MESSAGE_BYTES:
            return None
        return base64.b64decode(self.value_base64)

    def encode(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def named_key(value: bytes | None) -> str | None:
    """The "key" a message value names, however invalid the rest of it: what a person looks for in a dead
    letter. None where the value is not a JSON object with a string key."""
    try:
        key = json.loads(value) if value else None
    except (ValueError, RecursionError):
        return None
    found = key.get("key") if isinstance(key, dict) else None
    return found if isinstance(found, str) and found else None


#: How much of the key a message names a dead letter keeps (the dead letter itself must stay a small message).
MAX_NAMED_KEY = 1024


def object_metadata(message: ImageMessage) -> dict[str, str]:
    """S3 user metadata stored with the image (ASCII only, hence quoting): a backfill, which has no Kafka
    message, recovers upload time and source from it."""
    metadata = {"uploaded-at": message.uploaded_at.isoformat(), "source-path": quote(message.source.path)}
    if message.source.host is not None:  # an empty host is kept as one
        metadata["source-host"] = quote(message.source.host)
    if message.source.name:
        metadata["source-name"] = message.source.name
    if message.source.captured_at:
        metadata["captured-at"] = message.source.captured_at.isoformat()
    if message.source.video_frame:
        frame = message.source.video_frame
        metadata |= {
            "source-video": quote(frame.video),
            "frame-index": str(frame.frame_index),
            "frame-time": str(frame.timestamp_s),
        }
    return metadata


def is_source_name(name: str) -> bool:
    """Whether `name` may be a source name (`Source.name`)."""
    return re.fullmatch(SOURCE_NAME_PATTERN, name) is not None


def _aware(text: str | None) -> datetime | None:
    """A stored ISO time, read as UTC when it names no offset."""
    moment = datetime.fromisoformat(text) if text else None
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _captured(text: str | None) -> datetime | None:
    """A capture time another tool stored that this product cannot read is dropped, not the rest."""
    try:
        return _aware(text)
    except (ValueError, OverflowError):
        return None


def parse_object_metadata(metadata: dict[str, str]) -> tuple[datetime | None, Source | None]:
    """Inverse of `object_metadata`; tolerant of objects uploaded by other tools (returns Nones)."""
    try:
        uploaded = metadata.get("uploaded-at")
        frame = None
        if all(name in metadata for name in ("source-video", "frame-index", "frame-time")):
            frame = VideoFrame(
                video=unquote(metadata["source-video"]),
                frame_index=int(metadata["frame-index"]),
                timestamp_s=float(metadata["frame-time"]),
            )
        # A name another tool stored that this product would refuse is dropped, not the rest.
        name = metadata.get("source-name", "")
        source = None
        if "source-path" in metadata:  # an empty path is a path (a producer of another tool's may send one)
            source = Source(
                path=unquote(metadata["source-path"]),
                host=unquote(metadata["source-host"]) if "source-host" in metadata else None,
                video_frame=frame,
                name=name if is_source_name(name) else None,
                captured_at=_captured(metadata.get("captured-at")),
            )
        return _aware(uploaded), source
    except Exception:
        return None, None
