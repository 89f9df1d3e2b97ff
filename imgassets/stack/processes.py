"""Background service processes of the local stack: start detached, track by pid file, stop, report health."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil


class StackError(RuntimeError):
    """A stack operation failed; the message says what to do."""


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _restore_default_signals() -> None:
    """Children of a background shell inherit ignored SIGINT/SIGTERM; give them back their defaults."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


@dataclass
class Service:
    name: str
    argv: Sequence[str]
    ports: Sequence[int]
    run_dir: Path
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    healthy: Callable[[], bool] | None = None
    stop_timeout: float = 30.0
    #: The address its ports listen on.
    host: str = "127.0.0.1"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The running process's pid, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            process = psutil.Process(pid)
            if process.status() != psutil.STATUS_ZOMBIE:
                return pid
        except psutil.NoSuchProcess:
            pass
        self.pid_file.unlink(missing_ok=True)
        return None

    def is_healthy(self) -> bool:
        if self.pid() is None:
            return False
        if self.healthy is not None:
            return self.healthy()
        return all(port_open(port, self.host) for port in self.ports)

    def start(self) -> bool:
        """Starts the service unless it already runs; returns True if it was started now."""
        if self.pid() is not None:
            return False
        busy = [port for port in self.ports if port_open(port, self.host)]
        if busy:
            raise StackError(
                f"{self.name}: port(s) {', '.join(map(str, busy))} on {self.host} are already in use by another "
                "process. Stop it, or choose other ports (see docs/configuration.md)."
            )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n==== {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {' '.join(self.argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_restore_default_signals,
            )
        self.pid_file.write_text(str(process.pid))
        return True

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise StackError(f"{self.name} exited during start-up; see {self.log_file}:\n{self.tail(20)}")
            if self.is_healthy():
                return
            time.sleep(0.5)
        raise StackError(f"{self.name} not healthy after {timeout:.0f} s; see {self.log_file}:\n{self.tail(20)}")

    def stop(self) -> bool:
        """SIGTERM to the whole process group, SIGKILL after `stop_timeout`; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            group = os.getpgid(pid)
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            self.pid_file.unlink(missing_ok=True)
            return False
        deadline = time.monotonic() + self.stop_timeout
        # Stopped means the processes are gone *and* the ports are free again, so a restart can bind them.
        while time.monotonic() < deadline and (_group_alive(group) or self._listening()):
            time.sleep(0.2)
        if _group_alive(group):
            os.killpg(group, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _listening(self) -> bool:
        return any(port_open(port, self.host) for port in self.ports)

    def tail(self, lines: int) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log yet)"


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return any(
        p.info["status"] != psutil.STATUS_ZOMBIE for p in psutil.process_iter(["status"]) if _pgid(p.pid) == group
    )


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None
