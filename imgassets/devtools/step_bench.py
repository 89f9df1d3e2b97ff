"""`imgassets bench-steps`: the per-run CPU of the roll-up step (detection_summary) and the table step
(detection_table) when a run brings an hour's first images, and when it brings the images after the first N of a
busy hour (default 200,000): with append-then-compact they must cost the same at both points.

The hour's first N images are made directly in the S3 server, as N / batch earlier runs and a compaction would have
left them: the stored roll-up (their runs folded, their images counted) and the hour's compacted
tables. The measured run is real from there on: its detection records, shard and manifest are written as the
pipeline writes them, and the two steps' own functions run on them; Dagster's per-step overhead, the same for every
run, is left out. Each point is measured over several runs; the median is reported, with the S3 server's time
apparent in the wall-clock figure.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
from dagster import DagsterRun

from imgassets.core import counted_images, layout, table
from imgassets.core.records import (
    RECENT_RUNS,
    Box,
    Detection,
    DetectionRecord,
    HourRollup,
    ImageResult,
    Manifest,
    ManifestEntry,
    Shard,
)
from imgassets.core.settings import Settings
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import RollupRead, hour_rollup, store_rollup
from imgassets.defs.detection_table import run_part
from imgassets.devtools import synthetic

LABELS = ("person", "car", "dog", "bicycle", "truck")


def _records(hour: datetime, count: int, run_id: str, rng: np.random.Generator) -> list[DetectionRecord]:
    """`count` detection records of new images of `hour`, as run `run_id` writes them (backend "none": a bench)."""
    now = datetime.now(UTC)
    common = {
        "image_sha256": "0" * 64,
        "image_width": 1280,
        "image_height": 720,
        "model_used": "yolov4-tiny",
        "model_weights_sha256": "0" * 64,
        "backend": "none",
        "input_size": 416,
        "confidence_threshold": 0.5,
        "nms_threshold": 0.4,
        "provenance": {
            "kafka": None,
            "dagster_run_id": run_id,
            "dagster_partition": layout.partition_key(hour),
            "source": None,
            "uploaded_at": now,
            "processed_at": now,
            "inference_ms": 0.0,
        },
    }
    found = []
    for index in range(count):
        key = layout.image_key(f"{rng.integers(0, 2**63):016x}{index:048x}"[:64], f"bench-{index:05d}.jpg", hour)
        detections = [
            Detection(label=label, class_id=LABELS.index(label), confidence=0.8, box=Box(x=10, y=10, w=50, h=40))
            for label in rng.choice(LABELS, int(rng.integers(0, 5)))
        ]
        found.append(
            DetectionRecord.model_validate(
                common
                | {
                    "image_key": key,
                    "source_image_path": f"s3://bench/{key}",
                    "detections": detections,
                    "counts": DetectionRecord.count(detections),
                }
            )
        )
    return found


def _write_run(store: ObjectStore, hour: datetime, records: list[DetectionRecord], run_id: str) -> None:
    """What a sensor run's image step leaves for its roll-up and table steps: records, manifest and shard."""
    partition = layout.partition_key(hour)
    now = datetime.now(UTC)
    for record in records:
        store.put_record(layout.parse_image_key(record.image_key).detection_key, record)
    accepted = [
        ManifestEntry(key=r.image_key, sha256=r.image_sha256, size=1, width=1280, height=720, format="JPEG")
        for r in records
    ]
    store.put_record(
        layout.manifest_key(partition, run_id),
        Manifest(partition=partition, run_id=run_id, mode="batch", created_at=now, accepted=accepted, rejected=[]),
    )
    results = [
        ImageResult(
            image_key=r.image_key,
            detection_key=layout.parse_image_key(r.image_key).detection_key,
            width=1280,
            height=720,
            counts=r.counts,
            objects=len(r.detections),
            processed_at=now,
        )
        for r in records
    ]
    store.put_record(
        layout.shard_key(partition, run_id), Shard(partition=partition, run_id=run_id, created_at=now, images=results)
    )


def _busy_hour(store: ObjectStore, hour: datetime, images: int, batch: int, rng: np.random.Generator) -> None:
    """The hour as `images / batch` earlier runs and a compaction left it: its compacted tables and its stored
    roll-up (shards and manifests folded, images counted)."""
    partition = layout.partition_key(hour)
    rows = synthetic.hour_tables(hour, images, rng)
    table.write_hour(store, partition, rows)
    runs = max(1, images // batch)
    created = [(hour + timedelta(seconds=index * 3600 / runs), uuid.uuid4().hex) for index in range(runs)]
    counts = rows.detections.group_by("label").aggregate([("label", "count")]).to_pylist()
    rollup = HourRollup(
        partition=partition,
        run_count=runs,
        recent_runs={run_id: at for at, run_id in created[-RECENT_RUNS:]},
        image_count=rows.images.num_rows,
        class_counts={row["label"]: row["label_count"] for row in counts},
        images_with_class={row["label"]: row["label_count"] for row in counts},
        source_counts={"bench": rows.images.num_rows},
    )
    keys = rows.images.column("image_key").to_pylist()
    counted = counted_images.counted(
        (run + 1, counted_images.hashes(keys[run * batch : (run + 1) * batch])) for run in range(runs)
    )
    store_rollup(store, RollupRead(rollup, {}, {}, runs, "made by the bench", counted))


def _measure(step: Callable[[], object]) -> tuple[float, float]:
    """(CPU seconds of this process, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    step()
    return time.process_time() - cpu, time.perf_counter() - wall


def _rollup(store: ObjectStore, partition: str, run: DagsterRun) -> None:
    """The roll-up step's work for `run`: its shard and manifest folded, the roll-up and summary stored."""
    store_rollup(store, hour_rollup(store, partition, run))


def _append(store: ObjectStore, partition: str, run: DagsterRun, batch: int) -> None:
    """The table step's work for `run`: its own part of the hour."""
    part_run, rows, _ = run_part(store, partition, run)
    assert part_run == run.run_id and rows.images.num_rows == batch
    table.write_part(store, partition, run.run_id, rows)


def _point(store: ObjectStore, hour: datetime, batch: int, runs: int, rng: np.random.Generator) -> dict[str, float]:
    """Median CPU and wall milliseconds of each step over `runs` sensor runs of `batch` new images each."""
    partition = layout.partition_key(hour)
    timings: dict[str, list[tuple[float, float]]] = {"rollup": [], "table": []}
    for _ in range(runs):
        run_id = uuid.uuid4().hex
        _write_run(store, hour, _records(hour, batch, run_id, rng), run_id)
        run = DagsterRun(job_name="bench_steps", run_id=run_id)
        timings["rollup"].append(_measure(partial(_rollup, store, partition, run)))
        timings["table"].append(_measure(partial(_append, store, partition, run, batch)))
    return {
        f"{step}_{kind}_ms": round(1000 * statistics.median(t[index] for t in found), 1)
        for step, found in timings.items()
        for index, kind in enumerate(("cpu", "wall"))
    }


def run(
    settings: Settings, images: int, batch: int, runs: int, log: Callable[[str], None] = print
) -> dict[str, object]:
    """The two points in a bucket of their own (`<bucket>-steps`, emptied first), and their ratio."""
    store = ObjectStore.from_settings(settings.model_copy(update={"s3_bucket": f"{settings.s3_bucket}-steps"}))
    store.ensure_bucket()
    for key in store.list_keys(""):
        store.delete(key)
    rng = np.random.default_rng(28)
    first_hour = datetime(2026, 1, 1, 0, tzinfo=UTC)
    busy_hour = first_hour + timedelta(hours=1)
    log(f"the first images of an empty hour: {runs} runs of {batch} …")
    first = _point(store, first_hour, batch, runs, rng)
    log(f"making a busy hour: {images:,} images as {max(1, images // batch):,} earlier runs left them …")
    started = time.perf_counter()
    _busy_hour(store, busy_hour, images, batch, rng)
    log(f"  made in {time.perf_counter() - started:.0f} s; after its first {images:,} images: {runs} runs …")
    busy = _point(store, busy_hour, batch, runs, rng)
    ratios = {
        step: round(busy[f"{step}_cpu_ms"] / first[f"{step}_cpu_ms"], 2) if first[f"{step}_cpu_ms"] else None
        for step in ("rollup", "table")
    }
    for step, name in (("rollup", "roll-up (detection_summary)"), ("table", "table (detection_table)")):
        log(
            f"  {name}: {first[f'{step}_cpu_ms']} ms CPU per run at the first image, {busy[f'{step}_cpu_ms']} ms "
            f"after {images:,} ({ratios[step]}x); wall {first[f'{step}_wall_ms']} → {busy[f'{step}_wall_ms']} ms"
        )
    return {"images_before": images, "batch": batch, "runs": runs, "first": first, "busy": busy, "ratio": ratios}
