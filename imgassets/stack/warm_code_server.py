"""The local stack's Dagster code server, started warm: runs begin in a process that has already imported Dagster,
the pipeline, the detector's libraries and the instance's storage.

Dagster's code server starts each run in a fresh interpreter (multiprocessing "spawn"), which imports Dagster, the
definitions, OpenCV, onnxruntime, pyarrow and SQLAlchemy again: about 1.5 s before a run's first step. Here the
code server's run processes come from a forkserver that imported them once (`PRELOAD`), started with the server,
so a run starts in milliseconds. Every run still gets a process of its own: a run that crashes or is killed costs
only itself, and the code server sees it die as before (run monitoring and retries are unchanged).

The stack runs one code server for its webserver and daemon (the `dagster-code` service, as compose does): a
code server the daemon started itself would be replaced every 60 s (Dagster's daemon reloads its workspace), and
each replacement would import everything again and start its first run cold. The service is Dagster's
`code-server start` proxy, so "Reload" in Dagster's UI still loads changed code: the proxy starts a fresh
`dagster api grpc` server. The stack's launcher script (`services.write_workspace`) runs this module as
`<module> <launcher> -m dagster ARGS`: the proxy is given the launcher as its Python, so each server it starts
comes back here and serves runs from the warm forkserver. The production path (compose: a container per run) is
not affected.
"""

from __future__ import annotations

import multiprocessing
import sys

from imgassets.stack import dagster_patches

#: What every run imports: the definitions' modules and the libraries of its steps.
PRELOAD = [
    "dagster",
    "dagster._core.execution.api",
    "dagster._grpc.impl",
    "imgassets.definitions",
    "imgassets.defs.image_batch",
    "imgassets.defs.raw_images",
    "imgassets.defs.detections",
    "imgassets.defs.detection_summary",
    "imgassets.defs.detection_table",
    "imgassets.defs.version_assets",
    "imgassets.defs.kafka_sensor",
    "imgassets.defs.run_failures",
    "imgassets.detector.onnx_backend",
    "imgassets.detector.opencv_backend",
    "pyarrow.parquet",
    # The instance's storage, which every run opens (SQLite on the local stack), with its migrations' tooling.
    "dagster._core.instance.factory",
    "dagster._core.instance.runs.run_domain",
    "dagster._core.secrets.env_file",
    "dagster._core.storage.migration.utils",
    "upath.implementations.local",
    "dagster._core.storage.sqlite_storage",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log",
    "dagster._core.storage.runs.sqlite.sqlite_run_storage",
    "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage",
    "dagster._core.storage.local_compute_log_manager",
    "dagster._core.storage.root",
    "dagster._core.run_coordinator",
    "dagster._core.scheduler",
    "imgassets.stack.run_launcher",
    "alembic.command",
    "alembic.config",
    "alembic.migration",
    "alembic.runtime.environment",
    "alembic.script",
    "sqlalchemy.dialects.sqlite",
    # Pillow loads its codecs on first use: the accepted formats (images.FORMATS) and those it always loads.
    "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.PngImagePlugin",
    "PIL.PpmImagePlugin",
    "PIL.TiffImagePlugin",
    "PIL.WebPImagePlugin",
    # Last: what every run would otherwise redo (the instance's migration scripts, read once).
    "imgassets.stack.warm_runs",
]


def warm_context() -> multiprocessing.context.BaseContext:
    """A multiprocessing context whose processes fork from a server that imported `PRELOAD`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def main(argv: list[str]) -> None:
    """`LAUNCHER -m dagster ARGS`: Dagster's CLI with ARGS. `api grpc` serves runs from the warm forkserver, started
    at once so that the first run finds it ready; `code-server start` starts its servers through LAUNCHER."""
    if len(argv) < 3 or argv[1:3] != ["-m", "dagster"]:
        raise SystemExit(f"usage: {sys.argv[0]} LAUNCHER -m dagster ARGS (how the stack starts its code server)")
    launcher, args = argv[0], argv[3:]
    from dagster._cli import main as dagster_main

    if args[:2] == ["api", "grpc"]:
        dagster_patches.warm_api_server(warm_context)
        dagster_patches.share_sensor_instances()
        dagster_patches.cache_migration_scripts()
        dagster_patches.cache_sqlite_engines()
    elif args[:2] == ["code-server", "start"]:
        dagster_patches.proxy_with_current_runs()
        # With --use-python-environment-entry-point the proxy starts `sys.executable -m dagster api grpc …`.
        sys.executable = launcher
    sys.argv = ["dagster", *args]
    dagster_main()


if __name__ == "__main__":
    main(sys.argv[1:])
