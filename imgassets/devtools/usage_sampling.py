"""CPU time and peak memory of the bench stack's processes, each service as its whole process tree, with the code
server's run workers and this process (the ingest client) apart: what each part of the pipeline costs per image."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

import psutil

#: The run workers' own figure: the processes the code server's forkserver starts (imgassets/stack/
#: warm_code_server.py), apart from the code server itself (the sensor's ticks, Dagster's gRPC).
RUN_WORKERS = "run workers"
#: This process: the bench's uploads (what a camera or `imgassets ingest` does).
INGEST_CLIENT = "ingest client (bench)"


def _process_tree(pid: int) -> list[psutil.Process]:
    """A service's process and all its descendants (raises psutil.Error if it is gone)."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


@dataclass
class MemorySampler:
    """Peak resident memory of the stack's process trees, sampled in the background."""

    pids: dict[str, int]
    peak_mib: dict[str, float] = field(default_factory=dict)
    peak_total_mib: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            total = 0.0
            for name, pid in self.pids.items():
                try:
                    rss = sum(p.memory_info().rss for p in _process_tree(pid) if p.is_running()) / 2**20
                except psutil.Error:
                    continue
                self.peak_mib[name] = round(max(self.peak_mib.get(name, 0.0), rss), 1)
                total += rss
            self.peak_total_mib = round(max(self.peak_total_mib, total), 1)


def _cpu(processes: list[psutil.Process]) -> float:
    """CPU time of `processes` and of their finished children."""
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time used so far by each service's process tree, its finished children included, with the code
    server's run workers apart, and by this process (the ingest client)."""
    used = {}
    for name, pid in pids.items():
        try:
            tree = _process_tree(pid)
        except psutil.Error:
            continue
        used[name] = _cpu(tree)
        for process in tree:
            with contextlib.suppress(psutil.Error):
                if "multiprocessing.forkserver" in " ".join(process.cmdline()):
                    # Its finished children and the live ones; its own time (forking) stays the code server's.
                    times = process.cpu_times()
                    workers = times.children_user + times.children_system + _cpu(process.children(recursive=True))
                    used[name] -= workers
                    used[RUN_WORKERS] = used.get(RUN_WORKERS, 0.0) + workers
    own = psutil.Process().cpu_times()
    used[INGEST_CLIENT] = own.user + own.system
    return used


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two `cpu_seconds` samples (a process that started in between from 0)."""
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}


def settle(pids: dict[str, int], quiet_cpu_s: float = 0.3, timeout: float = 60.0) -> float:
    """Waits until the stack has finished starting: its processes together use at most `quiet_cpu_s` of CPU in a
    second (idle, they use 0.05-0.3 s: sensor ticks, the daemons' loops). Just after `up` returns, Dagster's daemon
    still loads the workspace and starts its daemons (about 1.6 s of CPU in 2 s, measured), which is no part of
    the pipeline's work per image. Returns the seconds waited."""
    started = time.monotonic()
    before = cpu_seconds(pids)
    while time.monotonic() - started < timeout:
        time.sleep(1)
        now = cpu_seconds(pids)
        busy = sum(now[name] - before.get(name, 0.0) for name in now if name != INGEST_CLIENT)
        before = now
        if busy <= quiet_cpu_s:
            break
    return time.monotonic() - started
