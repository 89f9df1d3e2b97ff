"""`imgassets bench-volume`: Dagster at volume, with real parts (the broker, the S3 server, the instance given).

1. The Kafka sensor over a backlog (sensor_volume.py): each tick's wall and CPU time, messages read, run requests,
   the cursor's bytes, until the backlog is read.
2. What each sensor run leaves in Dagster's storage (event_volume.py): event-log rows and bytes per run and, on
   PostgreSQL, every table's growth; extrapolated to a million images and to a year of runs every 3 s, because the
   event log is what grows without bound at volume.

Figures are printed and returned, never asserted.
"""

from __future__ import annotations

from collections.abc import Callable

from dagster import DagsterInstance

from imgassets.core.settings import Settings
from imgassets.devtools import event_volume, sensor_volume

#: Runs in a day and in a year at one run every 3 seconds.
RUNS_PER_DAY = 24 * 3600 // 3
RUNS_PER_YEAR = round(365.25 * RUNS_PER_DAY)
GIB = 1024**3


def extrapolate(per_run: dict[str, float], images_per_run: int) -> dict[str, dict[str, int]]:
    """`per_run` figures (rows, bytes) for a million images at `images_per_run`, and for a day (what a retention
    period multiplies) and a year (nothing deleted) at one run every 3 s."""
    runs = {
        "per_million_images": 1_000_000 / images_per_run,
        "per_day_at_1_run_per_3_s": RUNS_PER_DAY,
        "per_year_at_1_run_per_3_s": RUNS_PER_YEAR,
    }
    return {
        scope: {"runs": round(count)} | {name: round(value * count) for name, value in per_run.items()}
        for scope, count in runs.items()
    }


def _events_figures(events: dict, log: Callable[[str], None]) -> dict[str, float]:
    """The per-run figures to extrapolate, printed."""
    per_run, tables = events["per_run"], events["tables_per_run"]
    log(
        f"  per run ({per_run['images']:.0f} images, {events['runs'] - 1} runs after the first): "
        f"{per_run['event_rows']:.1f} event rows, {per_run['event_bytes']:,.0f} B serialized; run body "
        f"{per_run['run_body_bytes']:,.0f} B; {per_run['wall_s']:.2f} s wall, {per_run['cpu_s']:.2f} s CPU in process"
    )
    by_type = per_run["events_by_type"].items()
    heaviest = ", ".join(f"{name} {rows:g} × {size / rows:,.0f} B" for name, (rows, size) in by_type if rows)
    log(f"    by event type (rows × mean bytes): {heaviest}")
    figures = {"event_rows": per_run["event_rows"], "event_bytes": per_run["event_bytes"]}
    if tables:
        for name, grown in tables["tables"].items():
            log(
                f"    {name}: {grown['rows']} rows, {grown['table_bytes']:,} B table + {grown['index_bytes']:,} B "
                "indexes per run"
            )
        total = tables["total"]
        log(f"  PostgreSQL, all tables: {total['rows']} rows, {total['bytes']:,.0f} B (table + indexes) per run")
        events_table = tables["tables"].get("event_logs", {})
        figures |= {
            "event_logs_bytes": events_table.get("table_bytes", 0) + events_table.get("index_bytes", 0),
            "all_tables_rows": total["rows"],
            "all_tables_bytes": total["bytes"],
        }
    return figures


def _retention_figures(events: dict, per_run: dict[str, float], log: Callable[[str], None]) -> None:
    """What the purge left, and what a second wave of runs added after it, printed."""
    retention = events["retention"]
    left = retention["rows_after_purge"] or {}
    log(
        f"  retention: {retention['deleted']} of {retention['runs']} runs purged, {len(retention['kept'])} kept "
        f"(the latest materializations, {retention['kept_event_rows']} event rows); rows left: "
        + ", ".join(f"{name} {rows:,}" for name, rows in sorted(left.items()) if rows)
    )
    second = retention["second_wave_per_run"]
    if second and "all_tables_bytes" in per_run:
        log(
            f"  after a VACUUM, {retention['second_wave_runs']} runs more grew the tables by "
            f"{second['total']['bytes']:,.0f} B per run (the first runs: {per_run['all_tables_bytes']:,.0f} B)"
        )


def run(
    settings: Settings,
    instance: DagsterInstance,
    messages: int = 10_000,
    partitions: int = 12,
    max_ticks: int = 10,
    runs: int = 21,
    images_per_run: int = 100,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """Both parts on `instance`; the sensor's ticks, the runs' rows and bytes, and their extrapolations."""
    sensor = sensor_volume.run(settings, instance, messages, partitions, max_ticks, log)
    events = event_volume.run(settings, instance, runs, images_per_run, partitions, log)
    per_run = _events_figures(events, log)
    _retention_figures(events, per_run, log)
    growth = extrapolate(per_run, images_per_run)
    for scope, figures in growth.items():
        sizes = ", ".join(f"{name} {value / GIB:.2f} GiB" for name, value in figures.items() if name.endswith("bytes"))
        log(f"  {scope.replace('_', ' ')}: {figures['runs']:,} runs, {figures['event_rows']:,} event rows; {sizes}")
    return {"sensor": sensor, "events": events, "extrapolated": growth}
