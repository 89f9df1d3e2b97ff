"""Overlapping I/O with compute: bounded read-ahead over a thread pool, and a hand-off between steps."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def prefetch(pool: Executor, fn: Callable[[In], Out], items: Iterable[In], ahead: int) -> Iterator[Out]:
    """Yields fn(item) in order while up to `ahead` later items are already being fetched.

    Keeps memory bounded (unlike `Executor.map`, which submits everything at once) and lets S3 reads and
    image decoding run while the caller's thread runs the detector.
    """
    pending: deque[Future[Out]] = deque()
    iterator = iter(items)
    for item in iterator:
        pending.append(pool.submit(fn, item))
        if len(pending) >= ahead:
            break
    while pending:
        result = pending.popleft().result()
        for item in iterator:
            pending.append(pool.submit(fn, item))
            break
        yield result


class Handoff:
    """Bytes one step leaves for a later step of the same run in this process, bounded in total size.

    The run's steps execute in one process, so detections can take the images raw_images just read and checked
    instead of fetching them from S3 again. Each entry is taken once (memory is freed as detection proceeds);
    a miss just means the caller reads from S3.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: dict[tuple[str, str], bytes] = {}
        self._size = 0
        self._lock = threading.Lock()

    def put(self, key: str, sha256: str, data: bytes) -> None:
        with self._lock:
            if self._size + len(data) <= self.max_bytes and (key, sha256) not in self._items:
                self._items[(key, sha256)] = data
                self._size += len(data)

    def take(self, key: str, sha256: str) -> bytes | None:
        with self._lock:
            data = self._items.pop((key, sha256), None)
            if data is not None:
                self._size -= len(data)
            return data


class ByteBudget:
    """Bytes that may be held at once across threads (decoded pixels of one run), whatever the item count.

    An item larger than the whole budget waits until nothing else is held and then runs alone, so one huge
    image is slow but never deadlocks or multiplies. Holders must not wait on each other while holding.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._used = 0
        self._peak = 0
        self._condition = threading.Condition()

    @property
    def peak(self) -> int:
        return self._peak

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        size = max(0, min(size, self.capacity))
        with self._condition:
            self._condition.wait_for(lambda: self._used + size <= self.capacity)
            self._used += size
            self._peak = max(self._peak, self._used)
        try:
            yield
        finally:
            with self._condition:
                self._used -= size
                self._condition.notify_all()
