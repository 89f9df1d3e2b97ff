"""What ingest sends: image files, and frames taken from videos every N seconds, each as an `Item` with its
source (file, host, capture time)."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from imgassets.core.capture_time import photo_time, video_start
from imgassets.core.messages import UNKNOWN_SOURCE, Source, VideoFrame, is_source_name

log = logging.getLogger(__name__)


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass(frozen=True)
class Item:
    """One image to ingest: its bytes, the name its key is derived from, and where it came from."""

    data: bytes
    name: str
    source: Source


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus image and video files found recursively in named folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def image_item(path: Path, max_side: int | None = None) -> Item:
    data = path.read_bytes()
    taken = photo_time(data)  # before resizing, which drops EXIF
    if max_side:
        data = resize_jpeg(data, max_side)
    return Item(
        data=data,
        name=path.name,
        source=Source(path=str(path.resolve()), host=socket.gethostname(), captured_at=taken),
    )


def resize_jpeg(data: bytes, max_side: int) -> bytes:
    """The optional prepare step: shrink to `max_side` (longest side); leaves smaller or undecodable files as is."""
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or max(pixels.shape[:2]) <= max_side:
        return data
    scale = max_side / max(pixels.shape[:2])
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    ok, encoded = cv2.imencode(
        ".jpg", cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 92]
    )
    return encoded.tobytes() if ok else data


def video_frames(path: Path, every_seconds: float, max_side: int | None = None) -> Iterator[Item]:
    """Frames every `every_seconds` of a video, as JPEG items that remember their video and timestamp, and when
    they were taken: the video's creation time (else the moment the ingest opened it) plus the frame's time."""
    started = video_start(path) or datetime.now(UTC)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video {path}")
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps * every_seconds))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                encoded_ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
                if encoded_ok:
                    data = encoded.tobytes()
                    timestamp_s = round(index / fps, 3)
                    yield Item(
                        data=resize_jpeg(data, max_side) if max_side else data,
                        name=f"{path.stem}-f{index:06d}.jpg",
                        source=Source(
                            path=str(path.resolve()),
                            host=socket.gethostname(),
                            video_frame=VideoFrame(video=path.name, frame_index=index, timestamp_s=timestamp_s),
                            captured_at=started + timedelta(seconds=timestamp_s),
                        ),
                    )
            index += 1
    finally:
        capture.release()


def default_source_name() -> str:
    """This host's name as a source id (`--source` default), cut to what a source name may hold."""
    name = re.sub(r"[^A-Za-z0-9._:@-]+", "-", socket.gethostname()).strip("-._:@")[:64]
    return name or UNKNOWN_SOURCE


def check_source_name(name: str) -> str:
    if not is_source_name(name):
        raise ValueError(
            f"invalid source name {name!r}: 1-64 characters, letters, digits and . _ : @ -, starting with a "
            "letter or digit"
        )
    return name


def path_items(
    paths: Iterable[Path],
    every_seconds: float = 1.0,
    max_side: int | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
) -> Iterator[Item]:
    """The items of image and video files; a file that cannot be read is passed to `on_skip` and left out."""
    for path in paths:
        try:
            if is_video(path):
                yield from video_frames(path, every_seconds, max_side)
            else:
                yield image_item(path, max_side)
        except (OSError, ValueError) as exc:
            if on_skip is not None:
                on_skip(path, str(exc))
            else:
                log.warning("skipped %s: %s", path, exc)


def describe(item: Item) -> str:
    """Where an item came from, for messages: its file, and the frame of a video."""
    frame = item.source.video_frame
    return f"{item.source.path} (frame {frame.frame_index})" if frame else item.source.path
