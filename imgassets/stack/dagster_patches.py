"""Every change this project makes to Dagster's private code, in one place: the local stack's Dagster processes
apply them; the production path (compose, Kubernetes) runs Dagster's own entry points (`dagster-daemon run`,
`dagster code-server start`) with none of them, tuned only through the instance's public configuration.

Each patch overwrites a private name of the pinned Dagster (`PINNED_DAGSTER`) and is kept only for a gain measured
on the local stack (docs/performance.md gives the figures). `imgassets_tests/test_dagster_patches.py` checks, for
each, that the installed Dagster is the pinned one and that what it overwrites still exists: a Dagster upgrade
fails those tests by name instead of silently changing behaviour.

`IMGASSETS_DAGSTER_PATCHES` (all | none | a comma-separated list of `PATCHES` names) picks which apply, so that
each one's gain can be measured again (`imgassets bench` with and without it).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import multiprocessing

    from dagster._grpc.proxy_server import DagsterProxyApiServicer

#: The Dagster release every patch below was written for and measured with.
PINNED_DAGSTER = "1.13.27"


@dataclass(frozen=True)
class Patch:
    name: str
    #: The private names it overwrites or reads, "module:attribute".
    targets: tuple[str, ...]
    why: str


PATCHES = {
    patch.name: patch
    for patch in (
        Patch(
            "daemon-loops",
            (
                "dagster._daemon.sensor:MIN_INTERVAL_LOOP_TIME",
                "dagster._daemon.controller:DEFAULT_DAEMON_INTERVAL_SECONDS",
            ),
            "the sensor loop every IMGASSETS_SENSOR_INTERVAL_SECONDS (2 s) instead of 5 s, the backfill loop every "
            "IMGASSETS_BACKFILL_INTERVAL_SECONDS (5 s) instead of 30 s",
        ),
        Patch(
            "warm-runs",
            ("dagster._grpc.server:DagsterApiServer",),
            "runs start from a forkserver that imported the pipeline once, instead of a fresh interpreter each",
        ),
        Patch(
            "proxy-current-runs",
            ("dagster._grpc.proxy_server:DagsterProxyApiServicer",),
            "the code-server proxy answers GetCurrentRuns, so the local run launcher sees a run whose worker died",
        ),
        Patch(
            "shared-sensor-instance",
            ("dagster._core.definitions.sensor_definition:SensorEvaluationContext",),
            "sensor ticks in the code server share one instance instead of opening it for every tick",
        ),
        Patch(
            "migration-scripts",
            ("dagster._core.storage.sql:ALEMBIC_SCRIPTS_LOCATION", "alembic.script:ScriptDirectory"),
            "each process reads Dagster's Alembic migration scripts once instead of at every schema check",
        ),
        Patch(
            "sqlite-engines",
            (
                "dagster._core.storage.event_log.sqlite.sqlite_event_log:create_engine",
                "dagster._core.storage.runs.sqlite.sqlite_run_storage:create_engine",
                "dagster._core.storage.schedules.sqlite.sqlite_schedule_storage:create_engine",
            ),
            "Dagster's SQLite storages keep one engine per database instead of one per connection",
        ),
    )
}

ENV_VAR = "IMGASSETS_DAGSTER_PATCHES"


def chosen() -> set[str]:
    """The patches to apply, from IMGASSETS_DAGSTER_PATCHES (default: all)."""
    value = os.environ.get(ENV_VAR, "all").strip()
    if value == "all":
        return set(PATCHES)
    if value == "none":
        return set()
    names = {name.strip() for name in value.split(",") if name.strip()}
    unknown = names - set(PATCHES)
    if unknown:
        raise SystemExit(f"{ENV_VAR}: unknown {', '.join(sorted(unknown))}; all, none or of {', '.join(PATCHES)}")
    return names


def _when_chosen(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Makes a patch function a no-op unless IMGASSETS_DAGSTER_PATCHES chooses it."""

    def decorate(apply: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(apply)
        def guarded(*args: Any, **kwargs: Any) -> None:
            if name in chosen():
                apply(*args, **kwargs)

        return guarded

    return decorate


@_when_chosen("daemon-loops")
def shorten_daemon_loops(sensor_seconds: float, backfill_seconds: float) -> None:
    """Dagster's sensor daemon runs its loop every 5 s whatever a sensor's minimum interval, so a new message waits
    2.5 s on average for the tick that reads it; its backfill daemon looks every 30 s. Each sensor still ticks at
    most as often as its own minimum interval allows; the asset daemon, the other reader of the default interval,
    keeps its 30 s through the instance's `auto_materialize.minimum_interval_seconds`."""
    import dagster._daemon.controller as controller
    import dagster._daemon.sensor as sensor_daemon

    sensor_daemon.MIN_INTERVAL_LOOP_TIME = sensor_seconds  # type: ignore[assignment]
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = backfill_seconds  # type: ignore[assignment]


@_when_chosen("warm-runs")
def warm_api_server(context: Callable[[], multiprocessing.context.BaseContext]) -> None:
    """`dagster api grpc` serves runs from `context()` (a forkserver that imported the pipeline) instead of
    spawning a fresh interpreter per run, started at once so that the first run finds it ready."""
    from multiprocessing import forkserver

    import dagster._grpc.server as grpc_server
    from dagster._grpc.server import DagsterApiServer

    class WarmApiServer(DagsterApiServer):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._mp_ctx = context()  # type: ignore[assignment]  # a forkserver, not spawn
            forkserver.ensure_running()  # it imports its preload while no run waits for it

    grpc_server.DagsterApiServer = WarmApiServer  # type: ignore[misc]  # the class `dagster api grpc` builds


@_when_chosen("proxy-current-runs")
def proxy_with_current_runs() -> None:
    """Dagster's code-server proxy with the runs its servers execute (GetCurrentRuns, which it does not forward):
    the local run launcher asks for them to tell a live run from one whose worker died with its server."""
    import dagster._grpc.proxy_server as proxy_server

    proxy_server.DagsterProxyApiServicer = _proxy_class()  # type: ignore[misc]  # what `code-server start` builds


def _proxy_class() -> type[DagsterProxyApiServicer]:
    from dagster._grpc.__generated__ import dagster_api_pb2
    from dagster._grpc.proxy_server import DagsterProxyApiServicer
    from dagster._grpc.types import GetCurrentRunsResult
    from dagster_shared.serdes import deserialize_value, serialize_value

    class ProxyWithCurrentRuns(DagsterProxyApiServicer):
        def GetCurrentRuns(self, request: Any, context: Any) -> Any:
            # The current server's, and those of servers replaced by a reload that still finish their runs.
            clients = {id(client): client for client in [self._client, *self._run_clients.values()] if client}
            current: set[str] = set()
            for client in clients.values():
                try:
                    reply = client._get_response("GetCurrentRuns", request)
                except Exception:  # a server that is gone runs nothing
                    continue
                current.update(deserialize_value(reply.serialized_current_runs, GetCurrentRunsResult).current_runs)
            result = GetCurrentRunsResult(current_runs=sorted(current), serializable_error_info=None)
            return dagster_api_pb2.GetCurrentRunsReply(serialized_current_runs=serialize_value(result))

    return ProxyWithCurrentRuns


@_when_chosen("shared-sensor-instance")
def share_sensor_instances() -> None:
    """Sensor ticks in this server share one instance per instance ref. Dagster opens the instance anew for every
    tick's context (its storages, their schema checks): about two thirds of the code server's CPU per tick, with
    ticks every 2 s. The instance is shared as Dagster's webserver shares its one instance among its threads; it is
    never disposed before the server exits."""
    import threading

    from dagster import DagsterInstance
    from dagster._core.definitions.sensor_definition import SensorEvaluationContext
    from dagster._core.errors import DagsterInvariantViolationError
    from dagster_shared.serdes import serialize_value

    shared: dict[str, DagsterInstance] = {}
    lock = threading.Lock()

    def instance(context: SensorEvaluationContext) -> DagsterInstance:
        if context._instance is None:
            ref = context._instance_ref
            if ref is None:
                raise DagsterInvariantViolationError("a sensor context without an instance reference")
            key = serialize_value(ref)
            with lock:
                if key not in shared:
                    shared[key] = DagsterInstance.from_ref(ref)
            context._instance = shared[key]
        return context._instance

    SensorEvaluationContext.instance = property(instance)  # type: ignore[assignment, method-assign]


@_when_chosen("migration-scripts")
def cache_migration_scripts() -> None:
    """Dagster's SQLite storages read their Alembic migration scripts anew (every script file, parsed into a
    revision map) each time they check or stamp a database's schema revision: when a process opens the instance,
    and for every run's own event log database, once when it is created and once in each process that first
    writes to it. That is 65–100 ms of CPU each time, several times per run. The scripts are files of the
    installed Dagster that do not change while a process lives, so each process reads them once; the map is built
    here, so a process forked after this call (the run workers) inherits it."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from dagster._core.storage.sql import ALEMBIC_SCRIPTS_LOCATION

    if getattr(ScriptDirectory.from_config, "cached_scripts", False):
        return
    read = ScriptDirectory.from_config.__func__  # type: ignore[attr-defined]
    scripts: dict[tuple[str | None, tuple[str, ...] | None], ScriptDirectory] = {}

    def from_config(cls: type[ScriptDirectory], config: Any) -> ScriptDirectory:
        versions = config.get_version_locations_list()
        key = (config.get_alembic_option("script_location"), tuple(versions) if versions else None)
        if key not in scripts:
            scripts[key] = read(cls, config)
        return scripts[key]

    from_config.cached_scripts = True  # type: ignore[attr-defined]
    ScriptDirectory.from_config = classmethod(from_config)  # type: ignore[method-assign, assignment]
    dagster_scripts = Config()
    dagster_scripts.set_main_option("script_location", ALEMBIC_SCRIPTS_LOCATION)
    ScriptDirectory.from_config(dagster_scripts).as_revision_number("head")


#: Engines each process keeps: its instance's few databases and the event logs of the runs it is busy with.
_ENGINES_KEPT = 64


@_when_chosen("sqlite-engines")
def cache_sqlite_engines() -> None:
    """Dagster's SQLite storages make a new SQLAlchemy engine for every connection (each event a run writes, each
    read of a sensor's state), and each engine initializes its dialect on its first connection: 0.37 ms of CPU per
    connection instead of 0.11 ms, and 3.7 ms instead of 2.1 ms for a run status event (measured). The engines
    keep no connection open (Dagster's NullPool: a connection per use, as before), so each process keeps its
    engines, one per database, the least recently used dropped past `_ENGINES_KEPT`; one made before a fork serves
    the forked process (the run workers) too."""
    import dagster._core.storage.event_log.sqlite.sqlite_event_log as event_log
    import dagster._core.storage.runs.sqlite.sqlite_run_storage as run_storage
    import dagster._core.storage.schedules.sqlite.sqlite_schedule_storage as schedule_storage
    from sqlalchemy import Engine, create_engine

    if getattr(event_log.create_engine, "cached_engines", False):
        return

    @functools.lru_cache(maxsize=_ENGINES_KEPT)
    def engine(url: str, poolclass: Any, connect_args: tuple[tuple[str, Any], ...]) -> Engine:
        return create_engine(url, poolclass=poolclass, connect_args=dict(connect_args))

    def cached_create_engine(url: str, *, poolclass: Any, connect_args: dict[str, Any] | None = None) -> Engine:
        return engine(url, poolclass, tuple(sorted((connect_args or {}).items())))

    cached_create_engine.cached_engines = True  # type: ignore[attr-defined]
    for module in (event_log, run_storage, schedule_storage):
        module.create_engine = cached_create_engine  # type: ignore[attr-defined]
