"""The local stack's Dagster code servers, started warm: runs begin in a process that has already imported
Dagster, the pipeline and the detector's libraries.

Dagster's code server starts each run in a fresh interpreter (multiprocessing "spawn"), which imports Dagster, the
definitions, OpenCV, onnxruntime and pyarrow again: about 1.5 s before a run's first step. Here the code server's
run processes come from a forkserver that imported them once (`PRELOAD`), so a run starts in milliseconds. Every
run still gets a process of its own: a run that crashes or is killed costs only itself, and the code server sees
it die as before (run monitoring and retries are unchanged).

The stack's workspace (`services.write_workspace`) names a launcher script as the code location's Python; Dagster
runs it as `<script> -m dagster api grpc …` and the script runs this module with those arguments, which starts
Dagster's own CLI with this server class. The production path (compose: a container per run) is not affected.
"""

from __future__ import annotations

import multiprocessing
import sys
from typing import Any

#: What every run imports: the definitions' modules and the libraries of its steps.
PRELOAD = [
    "dagster",
    "dagster._core.execution.api",
    "dagster._grpc.impl",
    "imgassets.definitions",
    "imgassets.defs.raw_images",
    "imgassets.defs.detections",
    "imgassets.defs.detection_summary",
    "imgassets.defs.detection_table",
    "imgassets.defs.versions",
    "imgassets.defs.kafka_sensor",
    "imgassets.defs.run_failures",
    "imgassets.detector.onnx_backend",
    "imgassets.detector.opencv_backend",
    "pyarrow.parquet",
]


def warm_context() -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose processes fork from a server that imported `PRELOAD`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def main(argv: list[str]) -> None:
    """`-m dagster ARGS`: Dagster's CLI with ARGS, its code server starting runs from the warm forkserver."""
    if argv[:2] != ["-m", "dagster"]:
        raise SystemExit(f"usage: {sys.argv[0]} -m dagster ARGS (how Dagster starts a code location's Python)")
    import dagster._grpc.server as grpc_server
    from dagster._cli import main as dagster_main
    from dagster._grpc.server import DagsterApiServer

    class WarmApiServer(DagsterApiServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._mp_ctx = warm_context()  # type: ignore[assignment]  # a forkserver, not spawn

    grpc_server.DagsterApiServer = WarmApiServer  # type: ignore[misc]  # the class `dagster api grpc` builds
    sys.argv = ["dagster", *argv[2:]]
    dagster_main()


if __name__ == "__main__":
    main(sys.argv[1:])
