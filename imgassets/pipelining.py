"""Overlapping I/O with compute: bounded read-ahead over a thread pool."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
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
