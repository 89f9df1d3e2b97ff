"""When a photo or a video frame was taken, read from the file itself: what the tracker orders frames by.

A frame's capture time is its video's start plus the frame's time in the video; a photo's is its EXIF
DateTimeOriginal. Either may be missing (a phone strips EXIF, an encoder writes no creation time): the caller
then falls back (a video to the ingest's start, a photo to its upload time), so frames are never unordered.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, UnidentifiedImageError

#: Container epochs (MP4: 1904, AVI: 1970, Matroska: 2001): a time of 0, that is none written.
_EPOCHS = frozenset({datetime(1904, 1, 1), datetime(1970, 1, 1), datetime(2001, 1, 1)})
#: EXIF tags: DateTimeOriginal and its UTC offset (OffsetTimeOriginal) in the Exif IFD.
_EXIF_IFD, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 0x8769, 0x9003, 0x9011


def photo_time(data: bytes) -> datetime | None:
    """The photo's EXIF DateTimeOriginal in UTC (without an offset tag, the camera's clock is taken as UTC)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif().get_ifd(_EXIF_IFD)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    taken, offset = exif.get(_DATETIME_ORIGINAL), exif.get(_OFFSET_ORIGINAL)
    try:
        moment = datetime.strptime(str(taken).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=_zone(offset)).astimezone(UTC)


def _zone(offset: object) -> timezone:
    text = str(offset or "").strip("\x00 ")
    try:
        sign = -1 if text.startswith("-") else 1
        hours, minutes = text.lstrip("+-").split(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
    except ValueError:
        return UTC


def video_start(path: Path) -> datetime | None:
    """The video's creation time (MP4/MOV `mvhd`, Matroska's DateUTC, …, read with hachoir), in UTC. Encoders
    that write none leave 0, the format's epoch (1904 in MP4): that is no time."""
    from hachoir.core import config
    from hachoir.metadata import extractMetadata
    from hachoir.parser import createParser

    config.quiet = True  # hachoir reports every parser it tried on stderr
    try:
        with createParser(str(path)) as parser:
            metadata = extractMetadata(parser) if parser is not None else None
            created = metadata.get("creation_date") if metadata is not None and metadata.has("creation_date") else None
    except Exception:  # hachoir raises its own errors, and any of Python's, on a damaged file
        return None
    if not isinstance(created, datetime) or created.replace(tzinfo=None) in _EPOCHS:
        return None
    return created.replace(tzinfo=created.tzinfo or UTC).astimezone(UTC)
