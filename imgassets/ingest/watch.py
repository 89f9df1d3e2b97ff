"""`imgassets ingest --watch`: a folder watched for images and videos that land in it, each read once it has
settled, and sent through the upload-then-announce protocol (announce.py) with retries."""

from __future__ import annotations

import heapq
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers.api import BaseObserver

from imgassets.ingest.announce import Ingestor, Report
from imgassets.ingest.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, Item, describe, discover, path_items

log = logging.getLogger(__name__)


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
