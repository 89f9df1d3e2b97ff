"""Ingest: upload images (and frames extracted from videos) to S3, then announce each on Kafka.

Order per image: dedupe marker check → 'pending' marker (fixes the key) → upload → Kafka send, acknowledged →
'sent' marker. A crash anywhere re-runs to the same key, so an image is never announced under two keys; a
re-sent message is harmless because the pipeline's writes are idempotent.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
from kafka import KafkaProducer

from imgassets import images, layout, messages
from imgassets.messages import ImageMessage, Source, VideoFrame
from imgassets.pipelining import prefetch
from imgassets.storage import ObjectStore

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"}


@dataclass(frozen=True)
class Item:
    """One image to ingest: its bytes, the name its key is derived from, and where it came from."""

    data: bytes
    name: str
    source: Source


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Files named directly, plus image and video files found recursively in named folders."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
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
    if max_side:
        data = resize_jpeg(data, max_side)
    return Item(data=data, name=path.name, source=Source(path=str(path.resolve()), host=socket.gethostname()))


def resize_jpeg(data: bytes, max_side: int) -> bytes:
    """The optional prepare step: shrink to `max_side` (longest side); leaves smaller or undecodable files as is."""
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if pixels is None or max(pixels.shape[:2]) <= max_side:
        return data
    scale = max_side / max(pixels.shape[:2])
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    ok, encoded = cv2.imencode(".jpg", cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), [cv2.IMWRITE_JPEG_QUALITY, 92])
    return encoded.tobytes() if ok else data


def video_frames(path: Path, every_seconds: float, max_side: int | None = None) -> Iterator[Item]:
    """Frames every `every_seconds` of a video, as JPEG items that remember their video and timestamp."""
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
                    yield Item(
                        data=resize_jpeg(data, max_side) if max_side else data,
                        name=f"{path.stem}-f{index:06d}.jpg",
                        source=Source(
                            path=str(path.resolve()),
                            host=socket.gethostname(),
                            video_frame=VideoFrame(video=path.name, frame_index=index, timestamp_s=round(index / fps, 3)),
                        ),
                    )
            index += 1
    finally:
        capture.release()


class Ingestor:
    def __init__(self, store: ObjectStore, producer: KafkaProducer, topic: str) -> None:
        self.store = store
        self.producer = producer
        self.topic = topic
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def ingest(self, item: Item) -> tuple[str, str]:
        """Returns ('sent'|'duplicate'|'failed', image key or reason)."""
        content_type = images.sniff_content_type(item.data)
        if content_type is None:
            return "failed", "not a supported image (JPEG, PNG, WebP, BMP, TIFF)"
        sha256 = images.sha256_hex(item.data)
        with self._locks_guard:
            lock = self._locks[sha256]
        with lock:  # identical files in one batch: the second sees the first's marker
            return self._ingest(item, sha256, content_type)

    def _ingest(self, item: Item, sha256: str, content_type: str) -> tuple[str, str]:
        marker_key = layout.ingest_marker_key(sha256)
        marker = self.store.get_optional(marker_key)
        if marker is not None:
            state = json.loads(marker.data)
            if state.get("state") == "sent":
                return "duplicate", state["key"]
            key, uploaded_at = state["key"], datetime.fromisoformat(state["uploaded_at"])
        else:
            uploaded_at = datetime.now(timezone.utc)
            key = layout.image_key(sha256, item.name, uploaded_at)
            self._mark(marker_key, key, uploaded_at, "pending")
        message = ImageMessage(
            bucket=self.store.bucket,
            key=key,
            size=len(item.data),
            sha256=sha256,
            content_type=content_type,
            uploaded_at=uploaded_at,
            source=item.source,
        )
        self.store.put_bytes(key, item.data, content_type, messages.object_metadata(message))
        self.producer.send(self.topic, key=key.encode(), value=messages.encode(message)).get(timeout=60)
        self._mark(marker_key, key, uploaded_at, "sent")
        return "sent", key

    def _mark(self, marker_key: str, key: str, uploaded_at: datetime, state: str) -> None:
        body = json.dumps({"key": key, "uploaded_at": uploaded_at.isoformat(), "state": state}).encode()
        self.store.put_bytes(marker_key, body, "application/json")

    def ingest_many(self, items: Iterable[Item], workers: int = 4, progress: object | None = None) -> Report:
        """Ingests concurrently (uploads overlap); one bad item is reported and the rest go on."""
        report = Report()

        def one(item: Item) -> tuple[Item, str, str]:
            try:
                outcome, detail = self.ingest(item)
            except Exception as exc:  # noqa: BLE001 (reported per item; the batch continues)
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
            return item, outcome, detail

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for item, outcome, detail in prefetch(pool, one, items, ahead=workers * 2):
                if outcome == "sent":
                    report.sent.append(detail)
                elif outcome == "duplicate":
                    report.duplicates.append(detail)
                else:
                    report.failed.append((item.source.path, detail))
                    log.warning("not ingested: %s: %s", item.source.path, detail)
                if progress is not None:
                    progress.update(1)  # type: ignore[attr-defined]
        return report


def wait_until_stable(path: Path, settle_seconds: float = 0.5, timeout: float = 60) -> bool:
    """Watch mode: a file being copied in is read only once its size stops changing."""
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        if size == last and size > 0:
            return True
        last = size
        time.sleep(settle_seconds)
    return False
