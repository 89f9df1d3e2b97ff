"""Overlapping I/O with compute: bounded read-ahead over a thread pool, and a hand-off between steps."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
K = TypeVar("K")
V = TypeVar("V")


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


class Handoff(Generic[K, V]):
    """What one step leaves for a later step of the same run in this process, bounded in total cost.

    The run's steps execute in one process, so detections can take the images raw_images just read and checked
    instead of fetching them from S3 again, and the table step the records detections just wrote. Each entry is
    taken once (memory is freed as the later step proceeds); a miss just means the caller reads from S3.
    """

    def __init__(self, capacity: int, cost: Callable[[V], int]) -> None:
        self.capacity = capacity
        self._cost = cost
        self._items: dict[K, V] = {}
        self._used = 0
        self._lock = threading.Lock()

    def put(self, key: K, value: V) -> bool:
        """Whether `value` was kept (it fits in what is left of the capacity)."""
        cost = self._cost(value)
        with self._lock:
            if self._used + cost > self.capacity or key in self._items:
                return False
            self._items[key] = value
            self._used += cost
            return True

    def take(self, key: K) -> V | None:
        with self._lock:
            value = self._items.pop(key, None)
            if value is not None:
                self._used -= self._cost(value)
            return value

    def room(self) -> int:
        """What is left of the capacity."""
        with self._lock:
            return self.capacity - self._used

    def __len__(self) -> int:
        """Entries left, not yet taken."""
        return len(self._items)


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
