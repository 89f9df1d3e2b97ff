"""Read-ahead and the hand-off between steps: order, bounds, and memory accounting."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from imgassets.core.pipelining import Handoff, prefetch


def test_prefetch_keeps_order_and_bounds_work_in_flight() -> None:
    started: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            started.append(item)
        time.sleep(0.001 * (item % 3))
        return item * 2

    with ThreadPoolExecutor(4) as pool:
        results = []
        for index, value in enumerate(prefetch(pool, work, range(50), ahead=5)):
            with lock:
                assert len(started) <= index + 1 + 5  # never more than `ahead` beyond what was consumed
            results.append(value)
    assert results == [i * 2 for i in range(50)]


def test_handoff_gives_each_entry_once_and_stays_within_its_budget() -> None:
    handoff = Handoff[tuple[str, str], bytes](capacity=10, cost=len)
    handoff.put(("a", "sha-a"), b"12345")
    handoff.put(("b", "sha-b"), b"123456")  # would exceed the budget: not kept
    handoff.put(("c", "sha-c"), b"12345")
    assert handoff.take(("b", "sha-b")) is None
    assert handoff.take(("a", "other-sha")) is None  # content must match, not just the key
    assert handoff.take(("a", "sha-a")) == b"12345"
    assert handoff.take(("a", "sha-a")) is None
    handoff.put(("d", "sha-d"), b"12345")  # room again after a take
    assert len(handoff) == 2
    assert handoff.take(("d", "sha-d")) == b"12345" and handoff.take(("c", "sha-c")) == b"12345"
    assert len(handoff) == 0
