"""The local stack's run launcher: Dagster's default launcher plus a run-worker health check.

Runs start as subprocesses of the stack's code server. If that server dies with its workers (its process group
killed, the machine's OOM killer), nobody reports their runs failed: they would stay *Started* forever and their
batches would wait for a manual re-execution. With this check, run monitoring sees the worker
is gone, fails the run, and Dagster's run retries re-execute it. (A worker that dies alone is reported by its
code server already.) The Docker and Kubernetes launchers of the production path have checks of their own.
"""

from __future__ import annotations

import socket

from dagster import DagsterRun
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._grpc.types import GetCurrentRunsResult
from dagster_shared.serdes import deserialize_value


class LocalRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run finished, or no code server recorded for it")
        try:
            current = deserialize_value(client.get_current_runs(), GetCurrentRunsResult).current_runs
        except DagsterUserCodeUnreachableError:
            if _gone(client.host, client.port, client.socket):
                return CheckRunHealthResult(WorkerStatus.FAILED, "the code server that ran this run is gone")
            # Busy or slow, not gone: never fail a live run on a hiccup.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "code server did not answer", transient=True)
        if run.run_id in current:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        # Not executing there any more. A run that just finished is re-read by the monitor before it acts.
        return CheckRunHealthResult(WorkerStatus.NOT_FOUND, "the run's worker process is gone")


def _gone(host: str, port: int | None, socket_path: str | None) -> bool:
    """True when nothing listens at the code server's address any more (TCP port or Unix socket)."""
    try:
        if socket_path is not None:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
                unix.settimeout(2)
                unix.connect(socket_path)
        else:
            socket.create_connection((host, port), timeout=2).close()
    except (ConnectionRefusedError, FileNotFoundError):
        return True
    except OSError:
        return False
    return False
