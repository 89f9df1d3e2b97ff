"""`imgassets bench`: detector throughput vs end-to-end throughput and latency on a real local stack.

Runs its own stack (state in `<IMGASSETS_HOME>/bench`, ports apart from the dev stack), so the user's data and
services are untouched. Images are distinct variants of the demo photos (ingest dedupes identical content).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import cv2
import numpy as np
import psutil

from imgassets.core import images, layout
from imgassets.core.messages import Source
from imgassets.core.records import DetectionRecord
from imgassets.core.settings import PROJECT_ROOT, Settings, get_settings
from imgassets.core.storage import ObjectStore
from imgassets.ingest import announce, media
from imgassets.stack import dagster_api

PHOTOS = PROJECT_ROOT / "data" / "photos"
BENCH_PORTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:29092",
    "S3_ENDPOINT_URL": "http://127.0.0.1:4533",
    "DAGSTER_PORT": "23000",
    "DAGSTER_URL": "http://127.0.0.1:23000",
    "DAGSTER_CODE_PORT": "23003",
    "QUERY_PORT": "23002",
    "QUERY_URL": "http://127.0.0.1:23002",
}
SENSOR = "kafka_image_sensor"


def _read_photo(path: Path) -> np.ndarray:
    pixels = cv2.imread(str(path))
    if pixels is None:
        raise FileNotFoundError(f"cannot read demo photo {path}")
    return pixels


def synthetic_photos(count: int, first: int = 0) -> list[bytes]:
    """Distinct JPEGs: random crops/flips of the real demo photos (real content, unique bytes per index)."""
    rng = np.random.default_rng(first)
    bases = [_read_photo(p) for p in sorted(PHOTOS.glob("*.jpg"))]
    out = []
    for index in range(first, first + count):
        base = bases[index % len(bases)]
        h, w = base.shape[:2]
        ch, cw = int(h * rng.uniform(0.85, 1.0)), int(w * rng.uniform(0.85, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        variant = np.ascontiguousarray(base[y : y + ch, x : x + cw])
        if index % 2:
            variant = cv2.flip(variant, 1)
        variant[0, 0] = (index % 256, (index // 256) % 256, 7)  # unique bytes even for equal crops
        out.append(cv2.imencode(".jpg", variant, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out


class RawRate(TypedDict):
    version: str
    backend: str
    lanes: int
    images_per_s: float
    images_per_s_with_decode: float
    forward_cpu_ms_per_image: float
    images: int


def raw_detector(settings: Settings, photos: list[bytes]) -> RawRate:
    """Images/s of the active detector version on photos in memory, run the way the pipeline runs it (all of its
    inference lanes busy): forward only, and decode + forward."""
    from imgassets.defs.resource_types import DetectorResource

    resource = DetectorResource.from_settings(settings)
    version = resource.versions().active
    detector = resource.load(version)
    decoded = [images.decode_bgr(p) for p in photos]

    def rate(pool: ThreadPoolExecutor, fn, items: list) -> float:
        started = time.perf_counter()
        list(pool.map(fn, items))
        return len(items) / (time.perf_counter() - started)

    with ThreadPoolExecutor(detector.lanes) as lanes:
        rate(lanes, lambda pixels: detector.detect([pixels]), decoded[: 3 * detector.lanes])  # warm-up, every lane
        cpu = time.process_time()
        forward = rate(lanes, lambda pixels: detector.detect([pixels]), decoded)
        forward_cpu = time.process_time() - cpu
        with_decode = rate(lanes, lambda data: detector.detect([images.decode_bgr(data)]), photos)
    return {
        "version": version.name,
        "backend": detector.backend,
        "lanes": detector.lanes,
        "images_per_s": round(forward, 2),
        "images_per_s_with_decode": round(with_decode, 2),
        "forward_cpu_ms_per_image": round(1000 * forward_cpu / len(decoded), 1),
        "images": len(photos),
    }


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


#: The run workers' own figure: the processes the code server's forkserver starts (imgassets/stack/
#: warm_code_server.py), apart from the code server itself (the sensor's ticks, Dagster's gRPC).
RUN_WORKERS = "run workers"
#: This process: the bench's uploads (what a camera or `imgassets ingest` does).
INGEST_CLIENT = "ingest client (bench)"


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


def _beyond_forward(cpu: dict[str, float], images: int, raw: RawRate) -> float:
    """How much CPU the run workers spent per image beyond the forward pass's, as a share of the forward pass's."""
    return 1000 * cpu.get(RUN_WORKERS, 0.0) / images / raw["forward_cpu_ms_per_image"] - 1


def _await_detections(store, keys: list[str], timeout: float) -> list[str]:
    """Polls hour listings until every image has a detection record; returns the record keys."""
    wanted = {layout.parse_image_key(k).detection_key for k in keys}
    partitions = {layout.parse_image_key(k).partition for k in keys}
    deadline = time.monotonic() + timeout
    while True:
        present = set()
        for partition in partitions:
            present.update(store.list_keys(layout.detections_prefix(partition)))
        if wanted <= present:
            return sorted(wanted)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(wanted - present)} of {len(wanted)} detection records missing after {timeout} s")
        time.sleep(2)  # timings come from the records, not from this poll; listing often costs the stack CPU


def _read_records(store, keys: list[str]) -> list[DetectionRecord]:
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda k: store.get_record(k, DetectionRecord), keys))


def _first_run_start(stack, run_ids: set[str]) -> datetime:
    """When the earliest of these runs began executing, from the bench instance's run records."""
    from imgassets.stack.services import dagster_instance

    with dagster_instance(stack.settings, stack.paths) as instance:
        records = [instance.get_run_record_by_id(run_id) for run_id in run_ids]
        starts = [record.start_time for record in records if record is not None]
    return datetime.fromtimestamp(min(s for s in starts if s is not None), UTC)


def _graphql(settings: Settings, query: str, variables: dict | None = None) -> dict:
    """The bench stack's Dagster (its own port on this machine)."""
    return dagster_api.graphql(f"http://127.0.0.1:{settings.dagster_port}", query, variables)


def _sensor(settings: Settings) -> tuple[dict, str]:
    """The Kafka sensor's selector and its instigation state id, from the running webserver."""
    data = _graphql(
        settings,
        """{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
             ... on RepositoryLocation { repositories { name sensors { name sensorState { id } } } } } } } } }""",
    )
    for entry in data["workspaceOrError"]["locationEntries"]:
        for repository in (entry["locationOrLoadError"] or {}).get("repositories", []):
            for sensor in repository["sensors"]:
                if sensor["name"] == SENSOR:
                    selector = {
                        "repositoryLocationName": entry["name"],
                        "repositoryName": repository["name"],
                        "sensorName": SENSOR,
                    }
                    return selector, sensor["sensorState"]["id"]
    raise RuntimeError(f"{SENSOR} not found in the bench stack's workspace")


def _set_sensor(settings: Settings, running: bool) -> None:
    selector, state_id = _sensor(settings)
    if running:
        _graphql(
            settings,
            "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }",
            {"s": selector},
        )
    else:
        _graphql(settings, "mutation($id: String!) { stopSensor(id: $id) { __typename } }", {"id": state_id})


def _first_tick_with_runs(settings: Settings, after: float) -> float:
    """Start time (epoch seconds) of the first sensor tick after `after` that requested runs."""
    selector, _ = _sensor(settings)
    data = _graphql(
        settings,
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
             sensorState { ticks(limit: 50) { timestamp runIds } } } } }""",
        {"s": selector},
    )
    ticks = data["sensorOrError"]["sensorState"]["ticks"]
    found = [t["timestamp"] for t in ticks if t["timestamp"] >= after and t["runIds"]]
    if not found:
        seen = [(t["timestamp"], len(t["runIds"])) for t in ticks[:8]]
        raise RuntimeError(f"no sensor tick since {after:.1f} requested runs; the last ticks (time, runs): {seen}")
    return min(found)


def latency_breakdown(settings: Settings, since: float) -> dict:
    """Where an image's latency goes, from Dagster's own records of the sensor ticks and runs since `since`
    (epoch seconds): how far apart the ticks came and how long each took (a message waits for the next tick),
    how long a run waited in the queue and took to start, and how long it ran (medians)."""
    selector, _ = _sensor(settings)
    ticks = _graphql(
        settings,
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
             sensorState { ticks(limit: 200) { timestamp endTimestamp } } } } }""",
        {"s": selector},
    )["sensorOrError"]["sensorState"]["ticks"]
    starts = sorted(t["timestamp"] for t in ticks if t["timestamp"] >= since)
    runs = [
        run
        for run in _graphql(
            settings,
            """{ runsOrError(limit: 200) { ... on Runs { results {
                 creationTime startTime endTime stepStats { startTime } } } } }""",
        )["runsOrError"]["results"]
        if run["creationTime"] >= since and run["startTime"] and run["endTime"]
    ]

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 2) if values else None

    return {
        "ticks": len(starts),
        "tick_interval_s": median([b - a for a, b in zip(starts, starts[1:], strict=False)]),
        "tick_s": median(
            [t["endTimestamp"] - t["timestamp"] for t in ticks if t["timestamp"] >= since and t["endTimestamp"]]
        ),
        "runs": len(runs),
        "queued_s": median([r["startTime"] - r["creationTime"] for r in runs]),
        "start_to_first_step_s": median(
            [
                min(s["startTime"] for s in r["stepStats"] if s["startTime"]) - r["startTime"]
                for r in runs
                if any(s["startTime"] for s in r["stepStats"])
            ]
        ),
        "run_s": median([r["endTime"] - r["startTime"] for r in runs]),
    }


def drain(
    settings: Settings,
    ingestor: announce.Ingestor,
    photos: list[bytes],
    tag: str,
    pids: dict[str, int] | None = None,
    log=print,
) -> dict:
    """N images already waiting in Kafka and S3 (announced while the sensor was stopped), then the sensor is
    started: time from the first tick that saw them to the first record, the drain throughput, and the CPU per
    image of the processes `pids` (service name: pid), where given. `settings` reach the deployment's Kafka, S3 and
    Dagster webserver (its `dagster_port` on this machine)."""

    store = ObjectStore.from_settings(settings)
    _set_sensor(settings, running=False)
    time.sleep(settings.sensor_interval_seconds + 1)  # a tick already under way finishes
    report = ingestor.ingest_many(_items(photos, tag), workers=8)
    pids = pids or {}
    cpu_before = cpu_seconds(pids)
    started = time.time()
    _set_sensor(settings, running=True)
    records = _read_records(store, _await_detections(store, report.sent, timeout=120 + len(photos)))
    cpu_after = cpu_seconds(pids)
    tick = _first_tick_with_runs(settings, started - 1)
    first = min(r.provenance.processed_at for r in records).timestamp()
    last = max(r.provenance.processed_at for r in records).timestamp()
    cpu = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after}
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


def versions_phase(settings: Settings, store: ObjectStore, records: list[DetectionRecord], log=print) -> dict:
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


def _items(photos: list[bytes], tag: str) -> list[media.Item]:
    return [
        media.Item(data=p, name=f"bench-{tag}-{i:05d}.jpg", source=Source(path=f"bench/{tag}/{i}"))
        for i, p in enumerate(photos)
    ]


def _uploaded(record: DetectionRecord) -> datetime:
    """Upload time of a record the bench ingested itself (every such record has one)."""
    assert record.provenance.uploaded_at is not None, record.image_key
    return record.provenance.uploaded_at


def _latency(record: DetectionRecord) -> float:
    return (record.provenance.processed_at - _uploaded(record)).total_seconds()


def _latencies(records: list[DetectionRecord]) -> list[float]:
    return sorted(_latency(r) for r in records)


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def run(
    images_count: int,
    rate: float | None,
    duration: float,
    out_dir: Path,
    keep: bool,
    drain_count: int,
    log=print,
    version: str | None = None,
) -> dict:
    """The bench on a stack of its own; `version` is the detector version its sensor uses (default: the active)."""
    from imgassets.core.kafka_io import make_producer, settings_client_config
    from imgassets.stack import Stack

    base = get_settings()
    os.environ.update({f"IMGASSETS_{k}": v for k, v in BENCH_PORTS.items()})
    if version is not None:
        os.environ["IMGASSETS_DETECTOR_ACTIVE_VERSION"] = version
    os.environ["IMGASSETS_HOME"] = str(base.home / "bench")
    get_settings.cache_clear()
    settings = get_settings()

    log(f"preparing {images_count} photos …")
    throughput_photos = synthetic_photos(images_count)

    log("raw detector throughput …")
    raw = raw_detector(settings, throughput_photos[: min(200, images_count)])
    log(
        f"  {raw['backend']}: {raw['images_per_s']} img/s forward, "
        f"{raw['images_per_s_with_decode']} img/s with JPEG decode"
    )

    stack = Stack(settings)
    stack.down(log=lambda line: None)
    shutil.rmtree(settings.home, ignore_errors=True)  # a clean slate: every bench image is new
    log(f"starting the bench stack under {settings.home} …")
    stack.up(with_viewer=False, log=lambda line: None)
    store = ObjectStore.from_settings(settings)
    producer = make_producer(settings_client_config(settings))
    ingestor = announce.Ingestor(store, producer, settings.kafka_topic)
    tag = datetime.now(UTC).strftime("%H%M%S")
    try:
        pids = {s.name: pid for s in stack.services() if (pid := s.pid()) is not None}
        log(f"  the stack settled {settle(pids):.0f} s after starting")
        with MemorySampler(pids) as memory:
            log(f"end-to-end: ingesting {images_count} images as fast as possible …")
            cpu_before = cpu_seconds(pids)
            report = ingestor.ingest_many(_items(throughput_photos, f"{tag}t"), workers=8)
            done = _await_detections(store, report.sent, timeout=60 + images_count / 2)
            cpu_after = cpu_seconds(pids)
            records = _read_records(store, done)
            first = min(_uploaded(r) for r in records)
            last = max(r.provenance.processed_at for r in records)
            e2e = len(records) / (last - first).total_seconds()
            cpu = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after}
            cpu["total"] = round(sum(cpu.values()), 2)
            inference_ms = statistics.fmean(r.provenance.inference_ms for r in records)
            log(
                f"  CPU per image: {1000 * cpu['total'] / len(records):.1f} ms in all; by process: "
                + ", ".join(
                    f"{name} {1000 * sec / len(records):.1f} ms" for name, sec in cpu.items() if name != "total"
                )
                + f" (a forward pass took {inference_ms:.1f} ms per lane, wall clock, sharing the cores)"
            )
            beyond = _beyond_forward(cpu, len(records), raw)
            log(
                f"  run workers: {1000 * cpu.get(RUN_WORKERS, 0.0) / len(records):.1f} ms of CPU per image, "
                f"{100 * beyond:.0f}% beyond the forward pass ({raw['forward_cpu_ms_per_image']} ms in the raw phase)"
            )
            run_ids = {r.provenance.dagster_run_id for r in records}
            pipeline_seconds = (last - _first_run_start(stack, run_ids)).total_seconds()
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

            steady_rate = rate or round(e2e * 0.6, 1)  # below the measured end-to-end capacity
            count = int(steady_rate * duration)
            latency_photos = synthetic_photos(count, first=images_count)
            log(f"latency: {count} images at {steady_rate} img/s for {duration:.0f} s …")
            sent: list[str] = []
            latency_since = time.time()
            started = time.monotonic()
            for index, item in enumerate(_items(latency_photos, f"{tag}l")):
                delay = started + index / steady_rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                outcome, key = ingestor.ingest(item)
                if outcome == "sent":
                    sent.append(key)
            latency_records = _read_records(store, _await_detections(store, sent, timeout=120 + count))
            breakdown = latency_breakdown(settings, latency_since)
            log(
                f"  ticks every {breakdown['tick_interval_s']} s (each {breakdown['tick_s']} s); a run queued "
                f"{breakdown['queued_s']} s, started its first step {breakdown['start_to_first_step_s']} s later "
                f"and ran {breakdown['run_s']} s (medians over {breakdown['runs']} runs)"
            )

            log(f"drain: {drain_count} images waiting while the sensor is stopped, then the sensor started …")
            pids = {s.name: pid for s in stack.services() if (pid := s.pid()) is not None}
            photos = synthetic_photos(drain_count, first=images_count + count)
            drained = drain(settings, ingestor, photos, f"{tag}d", pids, log)
            log("versions: the end-to-end images' hours backfilled under other detector versions …")
            reprocessed = versions_phase(settings, store, records, log)
    finally:
        producer.close()
        if not keep:
            stack.down(log=lambda line: None)
    latencies = _latencies(latency_records)
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1)},
        "raw_detector": raw,
        "end_to_end": {
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
        },
        "latency": {
            "rate_images_per_s": steady_rate,
            "images": len(latencies),
            "runs": len({r.provenance.dagster_run_id for r in latency_records}),
            "p50_s": _percentile(latencies, 50),
            "p95_s": _percentile(latencies, 95),
            "max_s": round(max(latencies), 2) if latencies else 0.0,
            "mean_s": round(statistics.fmean(latencies), 2) if latencies else 0.0,
            "breakdown": breakdown,
        },
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
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = out_dir / f"bench-{stamp}.json"
    json_path.write_text(json.dumps(result, indent=2))
    plot_path = out_dir / f"bench-{stamp}-latency.png"
    _plot(latency_records, result, plot_path)
    result["files"] = {"json": str(json_path), "plot": str(plot_path)}
    return result


def _plot(records: list[DetectionRecord], result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(records, key=_uploaded)
    start = _uploaded(ordered[0]) if ordered else datetime.now(UTC)
    xs = [(_uploaded(r) - start).total_seconds() for r in ordered]
    ys = [_latency(r) for r in ordered]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.scatter(xs, ys, s=8, alpha=0.7)
    for label, key in (("p50", "p50_s"), ("p95", "p95_s")):
        ax.axhline(result["latency"][key], linestyle="--", linewidth=1, color="gray")
        ax.text(0, result["latency"][key], f" {label} {result['latency'][key]} s", va="bottom", fontsize=8)
    ax.set_xlabel("upload time (s since first upload)")
    ax.set_ylabel("upload → detection JSON (s)")
    ax.set_title(
        f"Latency at {result['latency']['rate_images_per_s']} img/s "
        f"({result['raw_detector']['backend']}, {result['end_to_end']['images_per_s']} img/s e2e max)"
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
