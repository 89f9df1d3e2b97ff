"""`imgassets bench`: detector throughput vs end-to-end throughput and latency on a real local stack.

Runs its own stack (state in `<IMGASSETS_HOME>/bench`, ports apart from the dev stack), so the user's data and
services are untouched. Images are distinct variants of the demo photos (ingest dedupes identical content).

The phases, in order: the raw detector rate (raw_rate.py), then on the running stack end to end (every image at
once), latency (a steady rate below capacity), drain (images waiting while the sensor is stopped) and versions (the
end-to-end hours backfilled under other detector versions). The CPU and memory figures come from usage_sampling.py,
Dagster's own timings from bench_dagster.py.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from imgassets.core import layout
from imgassets.core.records import DetectionRecord
from imgassets.core.settings import Settings, get_settings
from imgassets.core.storage import ObjectStore
from imgassets.devtools.bench_dagster import first_run_start, first_tick_with_runs, latency_breakdown, set_sensor
from imgassets.devtools.bench_photos import synthetic_photos
from imgassets.devtools.bench_stats import beyond_forward, latencies, percentile, uploaded
from imgassets.devtools.bench_uploads import await_detections, read_records, upload_items
from imgassets.devtools.latency_plot import plot_latency
from imgassets.devtools.raw_rate import RawRate, raw_detector
from imgassets.devtools.usage_sampling import (
    INGEST_CLIENT,
    RUN_WORKERS,
    MemorySampler,
    cpu_between,
    cpu_seconds,
    settle,
)
from imgassets.ingest import announce
from imgassets.stack import Stack, dagster_api

#: How a zero-cost run is labelled wherever its figures appear.
ZERO_COST = "zero-cost detector (finds nothing): an orchestration capacity figure, not a detection result"

BENCH_PORTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "S3_ENDPOINT_URL": "http://127.0.0.1:4533",
    "DAGSTER_PORT": "23000",
    "DAGSTER_URL": "http://127.0.0.1:23000",
    "DAGSTER_CODE_PORT": "23003",
    "QUERY_PORT": "23002",
    "QUERY_URL": "http://127.0.0.1:23002",
}


def drain(
    settings: Settings,
    ingestor: announce.Ingestor,
    photos: list[bytes],
    tag: str,
    pids: dict[str, int] | None = None,
    log: Callable[[str], None] = print,
) -> dict:
    """N images already waiting in Kafka and S3 (announced while the sensor was stopped), then the sensor is
    started: time from the first tick that saw them to the first record, the drain throughput, and the CPU per
    image of the processes `pids` (service name: pid), where given. `settings` reach the deployment's Kafka, S3 and
    Dagster webserver (its `dagster_port` on this machine)."""

    store = ObjectStore.from_settings(settings)
    set_sensor(settings, running=False)
    time.sleep(settings.sensor_interval_seconds + 1)  # a tick already under way finishes
    report = ingestor.ingest_many(upload_items(photos, tag), workers=8)
    pids = pids or {}
    cpu_before = cpu_seconds(pids)
    started = time.time()
    set_sensor(settings, running=True)
    records = read_records(store, await_detections(store, report.sent, timeout=120 + len(photos)))
    cpu_after = cpu_seconds(pids)
    tick = first_tick_with_runs(settings, started - 1)
    first = min(r.provenance.processed_at for r in records).timestamp()
    last = max(r.provenance.processed_at for r in records).timestamp()
    cpu = cpu_between(cpu_before, cpu_after)
    result = {
        "images": len(records),
        "runs": len({r.provenance.dagster_run_id for r in records}),
        "first_result_s": round(first - tick, 2),
        "tick_wait_s": round(tick - started, 2),
        "drain_s": round(last - tick, 2),
        "images_per_s": round(len(records) / (last - tick), 2),
        "cpu_ms_per_image": {name: round(1000 * sec / len(records), 1) for name, sec in cpu.items()},
    }
    log(
        f"  first record {result['first_result_s']} s after the tick that saw the messages "
        f"(that tick came {result['tick_wait_s']} s after the sensor was started); drained {len(records)} images "
        f"in {result['drain_s']} s ({result['images_per_s']} img/s, {result['runs']} runs)"
    )
    return result


def versions_phase(
    settings: Settings, store: ObjectStore, records: list[DetectionRecord], log: Callable[[str], None] = print
) -> dict:
    """The end-to-end phase's hours reprocessed under the shipped detector versions, each as one backfill through
    Dagster's API (as from its UI): conf03 (only the confidence differs: from stored candidates) and input608 (a
    forward pass at 608), then conf03's comparison. The runs' own time, and the wall time from launch to the
    backfill's end (which adds the backfill daemon's scheduling: it looks at backfills every 30 s)."""
    url = f"http://127.0.0.1:{settings.dagster_port}"
    partitions = sorted({r.provenance.dagster_partition for r in records})
    # Every image of those hours is reprocessed (the latency and drain phases' images too).
    images = sum(1 for partition in partitions for _ in store.list_keys(layout.detections_prefix(partition)))
    figures: dict[str, dict] = {"images": {"images": images, "hours": len(partitions)}}
    for label, assets in (
        ("conf03", [["conf03", "detections"]]),
        ("input608", [["input608", "detections"]]),
        ("conf03_comparison", [["conf03", "comparison"]]),
    ):
        started = time.monotonic()
        backfill = dagster_api.launch_backfill(url, assets, partitions, f"bench {label}")
        state = dagster_api.backfill_state(url, backfill)
        while state.status not in dagster_api.FINAL_STATES:
            time.sleep(1)
            state = dagster_api.backfill_state(url, backfill)
        seconds = time.monotonic() - started
        figures[label] = {
            "status": state.status,
            "runs": state.runs,
            "seconds": round(seconds, 2),
            "run_seconds": state.run_seconds,
            "images_per_s_in_runs": round(images / state.run_seconds, 2) if state.run_seconds else None,
        }
        log(
            f"  {label}: {images} images, {state.runs} runs of {state.run_seconds:.1f} s in all "
            f"({figures[label]['images_per_s_in_runs']} img/s); {seconds:.1f} s from launch to the backfill's end "
            f"({state.status})"
        )
    return figures


def _bench_settings(version: str | None) -> Settings:
    """This process's settings pointed (through the environment) at the bench stack: its own ports and its home
    under the user's, so the user's stack and data are untouched; `version`, if given, as the active version."""
    base = get_settings()
    os.environ.update({f"IMGASSETS_{k}": v for k, v in BENCH_PORTS.items()})
    if version is not None:
        os.environ["IMGASSETS_DETECTOR_ACTIVE_VERSION"] = version
    os.environ["IMGASSETS_HOME"] = str(base.home / "bench")
    get_settings.cache_clear()
    return get_settings()


def _raw_phase(settings: Settings, photos: list[bytes], log: Callable[[str], None]) -> RawRate:
    """The raw detector rate on the first 200 photos, before the bench stack starts: what the pipeline's figures
    are measured against."""
    log("raw detector throughput …")
    raw = raw_detector(settings, photos[:200])
    log(
        f"  {raw['backend']}: {raw['images_per_s']} img/s forward, "
        f"{raw['images_per_s_with_decode']} img/s with JPEG decode"
    )
    return raw


def _fresh_stack(settings: Settings, log: Callable[[str], None]) -> Stack:
    """The bench stack started from nothing (one an earlier bench kept is stopped and its state removed), so that
    every bench image is new to it."""
    stack = Stack(settings)
    stack.down(log=lambda line: None)
    shutil.rmtree(settings.home, ignore_errors=True)  # a clean slate: every bench image is new
    log(f"starting the bench stack under {settings.home} …")
    stack.up(with_viewer=False, log=lambda line: None)
    return stack


def _service_pids(stack: Stack) -> dict[str, int]:
    """The running services' processes, by service name: what the CPU and memory figures are sampled from."""
    return {s.name: pid for s in stack.services() if (pid := s.pid()) is not None}


@dataclass
class _EndToEnd:
    """The end-to-end phase: its records (the versions phase reprocesses their hours), its rate unrounded (the
    latency phase's default rate derives from it) and its figures for the result."""

    records: list[DetectionRecord]
    images_per_s: float
    figures: dict


def _ingest_all_at_once(
    store: ObjectStore,
    ingestor: announce.Ingestor,
    photos: list[bytes],
    tag: str,
    pids: dict[str, int],
    log: Callable[[str], None],
) -> tuple[list[DetectionRecord], dict[str, float]]:
    """Every photo ingested as fast as the client can, until all have records: the records, and the CPU seconds
    each process used meanwhile, with their total (sampled before the records are read: reading costs S3 CPU)."""
    log(f"end-to-end: ingesting {len(photos)} images as fast as possible …")
    cpu_before = cpu_seconds(pids)
    report = ingestor.ingest_many(upload_items(photos, tag), workers=8)
    done = await_detections(store, report.sent, timeout=60 + len(photos) / 2)
    cpu_after = cpu_seconds(pids)
    records = read_records(store, done)
    cpu = cpu_between(cpu_before, cpu_after)
    cpu["total"] = round(sum(cpu.values()), 2)
    return records, cpu


def _log_cpu_per_image(
    cpu: dict[str, float], images: int, inference_ms: float, beyond: float, raw: RawRate, log: Callable[[str], None]
) -> None:
    """Where the end-to-end phase's CPU went per image, and how much of the run workers' the forward pass explains."""
    log(
        f"  CPU per image: {1000 * cpu['total'] / images:.1f} ms in all; by process: "
        + ", ".join(f"{name} {1000 * sec / images:.1f} ms" for name, sec in cpu.items() if name != "total")
        + f" (a forward pass took {inference_ms:.1f} ms per lane, wall clock, sharing the cores)"
    )
    log(
        f"  run workers: {1000 * cpu.get(RUN_WORKERS, 0.0) / images:.1f} ms of CPU per image, "
        f"{100 * beyond:.0f}% beyond the forward pass ({raw['forward_cpu_ms_per_image']} ms in the raw phase)"
    )


def _end_to_end_phase(
    stack: Stack,
    store: ObjectStore,
    ingestor: announce.Ingestor,
    photos: list[bytes],
    tag: str,
    pids: dict[str, int],
    raw: RawRate,
    log: Callable[[str], None],
) -> _EndToEnd:
    """The pipeline's capacity: its rate from the first upload to the last record and from the first run's start
    (without the wait for the sensor's tick and the run's launch), both against the raw rate, and its CPU per
    image by process."""
    records, cpu = _ingest_all_at_once(store, ingestor, photos, tag, pids, log)
    first = min(uploaded(r) for r in records)
    last = max(r.provenance.processed_at for r in records)
    e2e = len(records) / (last - first).total_seconds()
    inference_ms = statistics.fmean(r.provenance.inference_ms for r in records)
    beyond = beyond_forward(cpu, len(records), raw)
    _log_cpu_per_image(cpu, len(records), inference_ms, beyond, raw, log)
    run_ids = {r.provenance.dagster_run_id for r in records}
    pipeline_seconds = (last - first_run_start(stack, run_ids)).total_seconds()
    flowing = len(records) / pipeline_seconds
    log(
        f"  {e2e:.2f} img/s end to end over {len(run_ids)} runs "
        f"({100 * e2e / raw['images_per_s']:.0f}% of raw forward, "
        f"{100 * e2e / raw['images_per_s_with_decode']:.0f}% of decode+forward)"
    )
    log(
        f"  {flowing:.2f} img/s from the first run's start ({100 * flowing / raw['images_per_s']:.0f}% of raw "
        f"forward; without the wait for the first sensor tick and run launch)"
    )
    figures = {
        "images": len(records),
        "seconds": round((last - first).total_seconds(), 2),
        "images_per_s": round(e2e, 2),
        "runs": len(run_ids),
        "ratio_to_raw_forward": round(e2e / raw["images_per_s"], 3),
        "ratio_to_raw_with_decode": round(e2e / raw["images_per_s_with_decode"], 3),
        "cpu_seconds": cpu,
        "cpu_ms_per_image": round(1000 * cpu["total"] / len(records), 1),
        "forward_pass_wall_ms": round(inference_ms, 1),
        "run_workers_beyond_forward": round(beyond, 3),
        "from_first_run_start": {
            "seconds": round(pipeline_seconds, 2),
            "images_per_s": round(flowing, 2),
            "ratio_to_raw_forward": round(flowing / raw["images_per_s"], 3),
        },
    }
    return _EndToEnd(records, e2e, figures)


def _ingest_at_rate(ingestor: announce.Ingestor, photos: list[bytes], rate: float, tag: str) -> list[str]:
    """Uploads the photos `rate` a second on a fixed schedule (a late upload does not delay the ones after it);
    returns the keys of those sent."""
    sent: list[str] = []
    started = time.monotonic()
    for index, item in enumerate(upload_items(photos, tag)):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        outcome, key = ingestor.ingest(item)
        if outcome == "sent":
            sent.append(key)
    return sent


@dataclass
class _Latency:
    """The latency phase: its records (the plot's points) and its figures for the result."""

    records: list[DetectionRecord]
    figures: dict


def _latency_phase(
    settings: Settings,
    store: ObjectStore,
    ingestor: announce.Ingestor,
    photos: list[bytes],
    rate: float,
    duration: float,
    tag: str,
    log: Callable[[str], None],
) -> _Latency:
    """Images at a steady rate below capacity, as cameras send them: each one's time from upload to record, and
    where that time goes (Dagster's records of the ticks and runs)."""
    log(f"latency: {len(photos)} images at {rate} img/s for {duration:.0f} s …")
    since = time.time()
    sent = _ingest_at_rate(ingestor, photos, rate, tag)
    records = read_records(store, await_detections(store, sent, timeout=120 + len(photos)))
    breakdown = latency_breakdown(settings, since)
    log(
        f"  ticks every {breakdown['tick_interval_s']} s (each {breakdown['tick_s']} s); a run queued "
        f"{breakdown['queued_s']} s, started its first step {breakdown['start_to_first_step_s']} s later "
        f"and ran {breakdown['run_s']} s (medians over {breakdown['runs']} runs)"
    )
    values = latencies(records)
    figures = {
        "rate_images_per_s": rate,
        "images": len(values),
        "runs": len({r.provenance.dagster_run_id for r in records}),
        "p50_s": percentile(values, 50),
        "p95_s": percentile(values, 95),
        "max_s": round(max(values), 2) if values else 0.0,
        "mean_s": round(statistics.fmean(values), 2) if values else 0.0,
        "breakdown": breakdown,
    }
    return _Latency(records, figures)


def _summary(
    settings: Settings,
    raw: RawRate,
    end_to_end: _EndToEnd,
    latency: _Latency,
    drained: dict,
    reprocessed: dict,
    memory: MemorySampler,
) -> dict:
    """The bench's result: the phases' figures, with the machine and the settings they were measured with."""
    return {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "raw_detector": raw,
        "end_to_end": end_to_end.figures,
        "latency": latency.figures,
        "drain": drained,
        "first_result_s": drained["first_result_s"],
        "versions": reprocessed,
        "peak_rss_mib": {"total": memory.peak_total_mib, **memory.peak_mib},
        "settings": {
            "max_concurrent_runs": settings.max_concurrent_runs,
            "batch_max_images": settings.batch_max_images,
            "sensor_interval_seconds": settings.sensor_interval_seconds,
        },
    }


def _write_files(result: dict, latency_records: list[DetectionRecord], out_dir: Path) -> dict:
    """Writes the result (JSON) and the latency plot to `out_dir`, named by the time; returns the result with the
    two files' paths, which the JSON leaves out."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(result, indent=2))
    plot_path = out_dir / f"bench-{stamp}-latency.png"
    plot_latency(latency_records, result, plot_path)
    result["files"] = {"json": str(json_path), "plot": str(plot_path)}
    return result


def _orchestration_capacity(raw: RawRate, end_to_end_rate: float, drained: dict, log: Callable[[str], None]) -> dict:
    """The zero-cost detector's figures set against the real detector's raw rate: the orchestration's capacity is
    the drain (a backlog already in Kafka and S3, as when the producers run on their own machines), with its CPU
    per image by process, the bench's own polling left out; end to end also carries the uploader on the same
    cores."""
    capacity = drained["images_per_s"] / raw["images_per_s"]
    end_to_end = end_to_end_rate / raw["images_per_s"]
    cpu = {name: ms for name, ms in drained["cpu_ms_per_image"].items() if name != INGEST_CLIENT}
    log(
        f"orchestration capacity (zero-cost detector): {drained['images_per_s']:.1f} img/s draining "
        f"{drained['images']} images already in Kafka and S3 = {capacity:.2f}x the {raw['backend']} {raw['version']} "
        f"raw detector rate ({raw['images_per_s']} img/s) measured in this run, {sum(cpu.values()):.1f} ms of CPU "
        f"per image; end to end with the uploader on the same cores: {end_to_end_rate:.1f} img/s = {end_to_end:.2f}x"
    )
    return {
        "detector": ZERO_COST,
        "capacity_to_raw_detector": round(capacity, 3),
        "end_to_end_to_raw_detector": round(end_to_end, 3),
        "orchestration_cpu_ms_per_image": {"total": round(sum(cpu.values()), 1)} | cpu,
    }


def run(
    images_count: int,
    rate: float | None,
    duration: float,
    out_dir: Path,
    keep: bool,
    drain_count: int,
    log: Callable[[str], None] = print,
    version: str | None = None,
    detector: str = "model",
) -> dict:
    """The bench on a stack of its own; `version` is the detector version its sensor uses (default: the active).
    `detector` "none": the stack runs the zero-cost detector (detector/null_backend.py), so the drain is the
    orchestration's capacity (and end to end, with the uploader on the same cores), set against the real detector's
    raw rate measured first in the same run."""
    from imgassets.core.kafka_io import make_producer, settings_client_config

    settings = _bench_settings(version)
    log(f"preparing {images_count} photos …")
    throughput_photos = synthetic_photos(images_count)
    raw = _raw_phase(settings, throughput_photos, log)
    if detector == "none":
        log(ZERO_COST)
        os.environ["IMGASSETS_DETECTOR_BACKEND"] = "none"
        get_settings.cache_clear()
        settings = get_settings()
    stack = _fresh_stack(settings, log)
    store = ObjectStore.from_settings(settings)
    producer = make_producer(settings_client_config(settings))
    ingestor = announce.Ingestor(store, producer, settings.kafka_topic)
    tag = datetime.now(UTC).strftime("%H%M%S")
    try:
        pids = _service_pids(stack)
        log(f"  the stack settled {settle(pids):.0f} s after starting")
        with MemorySampler(pids) as memory:
            end_to_end = _end_to_end_phase(stack, store, ingestor, throughput_photos, f"{tag}t", pids, raw, log)
            steady_rate = rate or round(end_to_end.images_per_s * 0.6, 1)  # below the measured end-to-end capacity
            latency_photos = synthetic_photos(int(steady_rate * duration), first=images_count)
            latency = _latency_phase(settings, store, ingestor, latency_photos, steady_rate, duration, f"{tag}l", log)
            log(f"drain: {drain_count} images waiting while the sensor is stopped, then the sensor started …")
            drain_pids = _service_pids(stack)
            drain_photos = synthetic_photos(drain_count, first=images_count + len(latency_photos))
            drained = drain(settings, ingestor, drain_photos, f"{tag}d", drain_pids, log)
            reprocessed: dict = {}
            if detector != "none":  # other versions' backfills measure the detector, not the orchestration
                log("versions: the end-to-end images' hours backfilled under other detector versions …")
                reprocessed = versions_phase(settings, store, end_to_end.records, log)
    finally:
        producer.close()
        if not keep:
            stack.down(log=lambda line: None)
    result = _summary(settings, raw, end_to_end, latency, drained, reprocessed, memory)
    if detector == "none":
        result = _orchestration_capacity(raw, end_to_end.images_per_s, drained, log) | result
    return _write_files(result, latency.records, out_dir)
