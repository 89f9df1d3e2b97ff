"""What each sensor run leaves in Dagster's storage (`imgassets bench-volume`, part two).

R × B real JPEGs (tiny, each distinct) are uploaded and announced as `imgassets ingest` does; the real sensor
requests their runs (B images each), and each runs the real job (`image_batch_job` of the code location, with the
zero-cost detector "none": its records say so) in process on the given instance, with the tags Dagster's sensor
daemon adds. Counted per run: its event-log rows and their serialized bytes (what the `event` column holds), by
event type. On PostgreSQL (the production storage) every table's rows and bytes (table, TOAST and indexes) are read
before and after, so the growth includes the runs table, run tags, asset and check indexes. The first run is
measured apart: it makes the rows every later run shares (asset keys, snapshots).

Not included: what the run queue and the launcher add to a run the daemon launches (RUN_ENQUEUED, RUN_STARTING and
its worker process's engine events: 4 rows, docs/performance.md) and the sensors' tick rows (`job_ticks`), which
grow per tick, not per run.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from dagster import AssetsDefinition, DagsterInstance, Definitions, JobDefinition, RunRequest
from dagster._core.storage.tags import RUN_KEY_TAG, TICK_ID_TAG
from dagster_shared.serdes import serialize_value

from imgassets.core import kafka_io, messages
from imgassets.core.settings import Settings
from imgassets.core.storage import ObjectStore
from imgassets.defs.retention import partitioned, purge_finished_runs
from imgassets.devtools import sensor_volume, storage_sizes
from imgassets.ingest import announce, media
from imgassets.stack.instance import ensure_pools


@dataclass(frozen=True)
class RunFigures:
    """One sensor run: its images and cost, and the rows and bytes it left in the event log and the runs table."""

    images: int
    wall_s: float
    cpu_s: float
    event_rows: int
    event_bytes: int
    run_body_bytes: int
    tags: int
    #: Event type → (rows, serialized bytes).
    by_type: dict[str, tuple[int, int]]


def tiny_jpegs(count: int, seed: int) -> list[bytes]:
    """`count` distinct 64 × 48 JPEGs (noise: ingest dedupes identical content, and nothing here is detected)."""
    import cv2

    rng = np.random.default_rng(seed)
    found = []
    for _ in range(count):
        pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        found.append(cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    return found


def _announce(settings: Settings, count: int, log: Callable[[str], None]) -> None:
    """Uploads and announces `count` new images through the ingest path."""
    store = ObjectStore.from_settings(settings)
    store.ensure_bucket()
    producer = kafka_io.make_producer(kafka_io.settings_client_config(settings))
    started = time.perf_counter()
    try:
        ingestor = announce.Ingestor(store, producer, settings.kafka_topic, source_name="volume")
        items = [
            media.Item(data, f"volume-{index:06d}.jpg", messages.Source(path=f"/volume/{index:06d}.jpg"))
            for index, data in enumerate(tiny_jpegs(count, uuid.uuid4().int % 2**32))
        ]
        report = ingestor.ingest_many(items)
    finally:
        producer.close()
    if len(report.sent) != count:
        raise RuntimeError(f"ingest sent {len(report.sent)} of {count} images: {report.failed[:3]}")
    log(f"events: {count:,} images uploaded and announced in {time.perf_counter() - started:.1f} s")


def _requests(bench: sensor_volume.SensorBench, images: int) -> list[RunRequest]:
    """The sensor's run requests for the `images` announced, over as many ticks as it takes."""
    requests: list[RunRequest] = []
    for tick in range(1, 100):
        figures, found = bench.tick()
        if figures.skipped:
            break
        # The tags Dagster's sensor daemon adds when it creates each run.
        daemon_tags = {TICK_ID_TAG: str(tick)}
        requests += [r.with_replaced_attrs(tags={**r.tags, **daemon_tags, RUN_KEY_TAG: r.run_key}) for r in found]
    requested = sum(int(r.tags["imgassets/images"]) for r in requests)
    if requested != images:
        raise RuntimeError(f"the sensor requested runs for {requested} of {images} images (a run waiting to start?)")
    return requests


def _execute(job: JobDefinition, instance: DagsterInstance, request: RunRequest) -> RunFigures:
    """Runs `job` for `request` in process on `instance`; the rows it left."""
    tags = {k: v for k, v in request.tags.items() if not k.startswith("dagster/partition")}
    console = io.StringIO()  # the job's console logger prints every event: kept for a failure's report
    cpu, wall = time.process_time(), time.perf_counter()
    with contextlib.redirect_stderr(console):
        result = job.execute_in_process(
            run_config=request.run_config,
            instance=instance,
            partition_key=request.partition_key,
            tags=tags,
            raise_on_error=False,
        )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if not result.success:
        raise RuntimeError(f"run {result.run_id} failed:\n{console.getvalue()[-4000:]}")
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    by_type: dict[str, tuple[int, int]] = {}
    for entry in instance.all_logs(result.run_id):
        name = entry.dagster_event_type.name if entry.dagster_event_type else "LOG (context.log)"
        rows, size = by_type.get(name, (0, 0))
        by_type[name] = (rows + 1, size + len(serialize_value(entry).encode()))
    return RunFigures(
        images=int(request.tags["imgassets/images"]),
        wall_s=round(wall, 3),
        cpu_s=round(cpu, 3),
        event_rows=sum(rows for rows, _ in by_type.values()),
        event_bytes=sum(size for _, size in by_type.values()),
        run_body_bytes=len(serialize_value(run).encode()),
        tags=len(run.tags),
        by_type=dict(sorted(by_type.items(), key=lambda item: -item[1][1])),
    )


def run(
    settings: Settings,
    instance: DagsterInstance,
    runs: int,
    images_per_run: int,
    partitions: int,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """`runs` sensor runs of `images_per_run` images: the first apart, then the mean of the others, and on PostgreSQL
    the tables' growth over the others; then the retention's purge of them all and as many runs again (`_retention`)."""
    if runs < 2:
        raise ValueError("at least 2 runs: the first is measured apart")
    images = 2 * runs * images_per_run  # two waves: the second after the first is purged
    own_bucket = {"s3_bucket": f"{settings.s3_bucket}-volume", "detector_backend": "none"}
    batches = {"batch_max_images": images_per_run, "batch_first_images": images_per_run}
    with sensor_volume.own_topic(settings.model_copy(update=own_bucket | batches), "events", partitions) as own:
        _announce(own, images, log)
        bench = sensor_volume.SensorBench(own, instance)
        requests = _requests(bench, images)
        ensure_pools(instance)  # as the stack and compose's init do: the roll-up steps claim its slot, as deployed
        log(f"events: {len(requests)} runs of the job (detector 'none') on {type(instance.run_storage).__name__} …")
        job = bench.definitions.resolve_job_def("image_batch_job")
        first = _execute(job, instance, requests[0])
        before = storage_sizes.tables(instance)
        rest = [_execute(job, instance, request) for request in requests[1:runs]]
        after = storage_sizes.tables(instance)
        retention = _retention(bench.definitions, instance, job, requests[runs:], log)
    measured = len(rest)
    mean = {
        name: round(statistics.fmean(getattr(r, name) for r in rest), 1)
        for name in ("images", "wall_s", "cpu_s", "event_rows", "event_bytes", "run_body_bytes")
    }
    by_type = {
        name: [round(statistics.fmean(r.by_type.get(name, (0, 0))[index] for r in rest), 1) for index in (0, 1)]
        for name in first.by_type | rest[0].by_type
    }
    return {
        "runs": runs,
        "images_per_run": images_per_run,
        "storage": type(instance.event_log_storage).__name__,
        "first_run": asdict(first),
        "per_run": mean | {"events_by_type": dict(sorted(by_type.items(), key=lambda item: -item[1][1]))},
        "tables_per_run": storage_sizes.growth(before, after, measured) if before and after else None,
        "retention": retention,
    }


def _retention(
    definitions: Definitions,
    instance: DagsterInstance,
    job: JobDefinition,
    wave: list[RunRequest],
    log: Callable[[str], None],
) -> dict[str, object]:
    """Every run so far purged as the retention schedule purges runs older than IMGASSETS_RUN_RETENTION_DAYS (here
    the cutoff is now), then a second wave of as many runs. On PostgreSQL, after a VACUUM (autovacuum's work), that
    wave grows the tables by less than the first did: the purged runs' space is reused, so what the instance holds
    is bounded by the retention, not by the runs ever made."""
    runs_before = {record.dagster_run.run_id for record in instance.get_run_records()}
    assets = [asset for asset in definitions.assets or [] if isinstance(asset, AssetsDefinition)]
    report = purge_finished_runs(
        instance,
        datetime.now(UTC) + timedelta(seconds=1),
        max_runs=len(runs_before),
        batch_size=1_000,
        partitions_defs=partitioned(assets),
    )
    kept = sorted(runs_before - set(report.deleted_ids))
    purged = storage_sizes.tables(instance)
    storage_sizes.vacuum(instance)
    for request in wave:
        _execute(job, instance, request)
    refilled = storage_sizes.tables(instance)
    figures: dict[str, object] = {
        "runs": len(runs_before),
        "deleted": report.deleted,
        "kept": kept,
        "kept_event_rows": sum(len(instance.all_logs(run_id)) for run_id in kept),
        "rows_after_purge": {name: rows for name, (rows, _, _) in purged.items()} if purged else None,
        "second_wave_runs": len(wave),
        "second_wave_per_run": storage_sizes.growth(purged, refilled, len(wave)) if purged and refilled else None,
    }
    log(
        f"retention: purged {report.deleted} of {len(runs_before)} runs (kept {len(kept)}: the latest "
        f"materializations), then {len(wave)} runs more"
    )
    return figures
