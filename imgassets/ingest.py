"""Ingest: upload images (and frames extracted from videos) to S3, then announce each on Kafka.

Order per image: dedupe marker check → 'pending' marker (fixes the key) → upload → Kafka send, acknowledged →
'sent' marker. A crash anywhere re-runs to the same key, so an image is never announced under two keys; a
re-sent message is harmless because the pipeline's writes are idempotent.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import queue
import re
import socket
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from kafka import KafkaProducer
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver

from imgassets import images, layout, messages
from imgassets.capture_time import photo_time, video_start
from imgassets.messages import UNKNOWN_SOURCE, ImageMessage, Source, VideoFrame, is_source_name
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
    #: The failures worth retrying (an upload or send raised: S3 or Kafka trouble), with their reason; the
    #: others (not an image) would fail the same way again.
    retryable: list[tuple[Item, str]] = field(default_factory=list)


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


class Ingestor:
    def __init__(self, store: ObjectStore, producer: KafkaProducer, topic: str, source_name: str | None = None) -> None:
        """`source_name`: the camera or site id every image of this ingest carries (default: this host)."""
        self.store = store
        self.producer = producer
        self.topic = topic
        self.source_name = check_source_name(source_name) if source_name else default_source_name()
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
            uploaded_at = datetime.now(UTC)
            key = layout.image_key(sha256, item.name, uploaded_at)
            self._mark(marker_key, key, uploaded_at, "pending")
        message = ImageMessage(
            bucket=self.store.bucket,
            key=key,
            size=len(item.data),
            sha256=sha256,
            content_type=content_type,
            uploaded_at=uploaded_at,
            source=item.source.model_copy(update={"name": item.source.name or self.source_name}),
        )
        self.store.put_bytes(key, item.data, content_type, messages.object_metadata(message))
        self.producer.send(self.topic, key=key.encode(), value=messages.encode(message)).get(timeout=60)
        self._mark(marker_key, key, uploaded_at, "sent")
        return "sent", key

    def _mark(self, marker_key: str, key: str, uploaded_at: datetime, state: str) -> None:
        body = json.dumps({"key": key, "uploaded_at": uploaded_at.isoformat(), "state": state}).encode()
        self.store.put_bytes(marker_key, body, "application/json")

    def ingest_many(
        self,
        items: Iterable[Item],
        workers: int = 4,
        progress: object | None = None,
        on_result: Callable[[Item, str, str], None] | None = None,
    ) -> Report:
        """Ingests concurrently (uploads overlap); one bad item is reported and the rest go on.

        `on_result(item, outcome, detail)` is called per item, in order: outcome 'sent' or 'duplicate' (detail:
        the image key), 'failed' (not an image; detail: why) or 'error' (the upload or send raised; worth a
        retry)."""
        report = Report()

        def one(item: Item) -> tuple[Item, str, str]:
            try:
                outcome, detail = self.ingest(item)
            except Exception as exc:
                outcome, detail = "error", f"{type(exc).__name__}: {exc}"
            return item, outcome, detail

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for item, outcome, detail in prefetch(pool, one, items, ahead=workers * 2):
                if outcome == "sent":
                    report.sent.append(detail)
                elif outcome == "duplicate":
                    report.duplicates.append(detail)
                else:
                    report.failed.append((item.source.path, detail))
                    if outcome == "error":
                        report.retryable.append((item, detail))
                if on_result is not None:
                    on_result(item, outcome, detail)
                if progress is not None:
                    progress.update(1)  # type: ignore[attr-defined]
        return report


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


@dataclass(frozen=True)
class RetryPolicy:
    """Watch mode: a failed upload or send is tried again after 1, 2, 4, … s (at most `max_delay`), up to
    `max_attempts` attempts in all; then it is reported as failed for good."""

    first_delay: float = 1.0
    max_delay: float = 60.0
    max_attempts: int = 8

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_delay, self.first_delay * 2 ** (attempt - 1))


Signature = tuple[int, int, int]


def signature(path: Path) -> Signature | None:
    """(inode, size, mtime in ns) of a file, None if it is gone: what "the same file, unchanged" means."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass
class _Pending:
    """A file an event named, waiting for its size and mtime to stop changing."""

    first_seen: float
    changed_at: float
    signature: Signature | None = None


@dataclass(order=True)
class _Retry:
    due: float
    attempt: int = field(compare=False)  # attempts made so far
    item: Item = field(compare=False)
    reason: str = field(compare=False)


class Watcher:
    """`imgassets ingest --watch`: ingests what is in `folders`, then every image or video that lands there.

    - The file-system observer starts before the initial scan, so a file created during the scan is not
      missed; a file both scanned and announced by an event is read once (same resolved path and unchanged
      inode, size and mtime), and identical content is never sent twice anyway (sha256 markers).
    - A file is read once its size and mtime have not changed for `settle_seconds`; one still changing after
      `stable_timeout` is reported as skipped for now (again every `stable_timeout`) and read once it settles;
      one still empty is dropped until its next write announces it again.
    - An upload or send that fails is retried per `retry` (exponential backoff), and reported when it fails
      for good.
    """

    def __init__(
        self,
        folders: Iterable[Path],
        ingestor: Ingestor,
        workers: int = 4,
        *,
        make_items: Callable[[Iterable[Path]], Iterable[Item]] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        settle_seconds: float = 0.5,
        stable_timeout: float = 60.0,
        echo: Callable[[str], None] = print,
        warn: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.folders = list(folders)
        self.ingestor = ingestor
        self.workers = workers
        self.make_items = make_items or path_items
        self.retry = retry
        self.settle_seconds = settle_seconds
        self.stable_timeout = stable_timeout
        self.echo = echo
        self.warn = warn or (lambda text: print(text, file=sys.stderr, flush=True))
        self.clock = clock
        #: Final outcomes: sent and duplicate image keys, and (path, reason) of what failed for good.
        self.totals = Report()
        self._events: queue.Queue[Path] = queue.Queue()
        self._pending: dict[Path, _Pending] = {}
        self._retries: list[_Retry] = []
        self._seen: dict[Path, Signature] = {}
        self._observer: BaseObserver | None = None

    # --- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Starts the file-system observer (call before `scan`, so nothing created meanwhile is missed)."""
        from watchdog.observers import Observer

        handler = _Handler(self._events)
        observer = Observer()
        for folder in self.folders:
            observer.schedule(handler, str(folder), recursive=True)
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None
        if self._retries:
            waiting = ", ".join(sorted({describe(r.item) for r in self._retries}))
            self.warn(f"stopped with {len(self._retries)} image(s) still waiting for a retry: {waiting}")

    def __enter__(self) -> Watcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def idle(self) -> bool:
        """Nothing announced, waiting to settle or waiting for a retry."""
        return self._events.empty() and not self._pending and not self._retries

    # --- work -------------------------------------------------------------------------------------
    def scan(self, progress: object | None = None) -> Report:
        """Ingests every image and video already in the folders; failures worth it are queued for a retry."""
        report = self.ingestor.ingest_many(
            self._read(discover(self.folders)), self.workers, progress, on_result=self._first_attempt(echo=False)
        )
        if report.retryable:
            self.echo(f"retrying {len(report.retryable)} failed upload(s) with backoff")
        return report

    def run(self, stop: threading.Event | None = None) -> None:
        """Works until `stop` is set (or forever)."""
        while stop is None or not stop.is_set():
            self.step(self._wait_time())

    def step(self, timeout: float = 0.0) -> None:
        """Takes the events that arrive within `timeout` s, reads the files that settled, retries what is due."""
        self._take_events(timeout)
        ready = self._settled()
        if ready:
            self.ingestor.ingest_many(self._read(ready), self.workers, on_result=self._first_attempt(echo=True))
        due = self._due_retries()
        if due:
            by_item = {id(r.item): r for r in due}
            self.ingestor.ingest_many(
                [r.item for r in due], self.workers, on_result=lambda item, o, d: self._retried(by_item[id(item)], o, d)
            )

    def _wait_time(self) -> float:
        wait = 1.0
        if self._pending:
            wait = min(wait, self.settle_seconds / 2)
        if self._retries:
            wait = min(wait, max(0.0, self._retries[0].due - self.clock()))
        return wait

    def _take_events(self, timeout: float) -> None:
        try:
            paths = [self._events.get(timeout=timeout) if timeout > 0 else self._events.get_nowait()]
        except queue.Empty:
            return
        while True:
            try:
                paths.append(self._events.get_nowait())
            except queue.Empty:
                break
        now = self.clock()
        for path in paths:
            resolved = path.resolve()
            if resolved not in self._pending:
                self._pending[resolved] = _Pending(first_seen=now, changed_at=now)

    def _settled(self) -> list[Path]:
        """Pending files whose inode, size and mtime held still for `settle_seconds`; reports the ones that
        did not within `stable_timeout` (a later change brings them back)."""
        now = self.clock()
        ready = []
        for path, pending in list(self._pending.items()):
            current = signature(path)
            if current is None:  # gone (a temporary file, or moved away)
                del self._pending[path]
                continue
            if current != pending.signature:
                pending.signature, pending.changed_at = current, now
            elif current[1] > 0 and now - pending.changed_at >= self.settle_seconds:
                del self._pending[path]
                if self._seen.get(path) == current:
                    log.debug("already read unchanged: %s", path)
                else:
                    ready.append(path)
                continue
            if now - pending.first_seen >= self.stable_timeout:
                if current[1] == 0:  # nothing written yet: the first write announces it again
                    del self._pending[path]
                    self.warn(f"skipped {path}: still empty after {self.stable_timeout:g} s (read when written)")
                else:  # keeps being watched (it may stop changing right after the last event), reported again
                    pending.first_seen = now  # every `stable_timeout` while it still changes
                    self.warn(f"skipped {path}: still changing after {self.stable_timeout:g} s (read once it settles)")
        return ready

    def _read(self, paths: Iterable[Path]) -> Iterator[Item]:
        """Items of `paths`, remembering each file's signature as read (to recognise it unchanged later)."""
        for path in paths:
            resolved = path.resolve()
            current = signature(resolved)
            if current is not None:
                self._seen[resolved] = current
            yield from self.make_items([path])

    def _first_attempt(self, echo: bool) -> Callable[[Item, str, str], None]:
        def record(item: Item, outcome: str, detail: str) -> None:
            if outcome == "error":
                self._schedule(item, 1, detail)
            elif outcome == "failed":
                self.totals.failed.append((item.source.path, detail))
                if echo:
                    self.warn(f"failed: {describe(item)}: {detail}")
            else:
                self._done(item, outcome, detail, echo)

        return record

    def _retried(self, retry: _Retry, outcome: str, detail: str) -> None:
        attempt = retry.attempt + 1
        if outcome == "error":
            self._schedule(retry.item, attempt, detail)
        elif outcome == "failed":
            self.totals.failed.append((retry.item.source.path, detail))
            self.warn(f"failed: {describe(retry.item)}: {detail}")
        else:
            self._done(retry.item, outcome, detail, True, f" (attempt {attempt})")

    def _schedule(self, item: Item, attempts: int, reason: str) -> None:
        if attempts >= self.retry.max_attempts:
            self.totals.failed.append((item.source.path, reason))
            self.warn(f"failed: {describe(item)}: gave up after {attempts} attempts: {reason}")
            return
        delay = self.retry.delay(attempts)
        self.warn(
            f"failed: {describe(item)} (attempt {attempts}/{self.retry.max_attempts}): {reason}; "
            f"retrying in {delay:g} s"
        )
        heapq.heappush(self._retries, _Retry(self.clock() + delay, attempts, item, reason))

    def _due_retries(self) -> list[_Retry]:
        now = self.clock()
        due = []
        while self._retries and self._retries[0].due <= now:
            due.append(heapq.heappop(self._retries))
        return due

    def _done(self, item: Item, outcome: str, key: str, echo: bool, suffix: str = "") -> None:
        (self.totals.sent if outcome == "sent" else self.totals.duplicates).append(key)
        if echo:
            verb = "sent" if outcome == "sent" else "already ingested"
            self.echo(f"{verb} {describe(item)} → {key}{suffix}")


class _Handler(FileSystemEventHandler):
    """Queues the path of every image or video file created, written, closed after writing or moved in."""

    def __init__(self, events: queue.Queue[Path]) -> None:
        self.events = events

    def _queue(self, path: str | bytes) -> None:
        candidate = Path(os.fsdecode(path))
        if candidate.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
            self.events.put(candidate)

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._queue(event.src_path)

    def on_modified(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._queue(event.src_path)

    def on_closed(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._queue(event.src_path)

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._queue(event.dest_path)
