"""`imgassets bench-queries`: a month of synthetic hour tables (over a million detections) in the local S3,
and the time of the queries users run over it, cold (a fresh DuckDB connection: no cached Parquet metadata) and
warm (the same connection again, as the query endpoint keeps it):

- a month-wide search ("at least 3 person AND at least 1 bus"), as the search page runs it;
- a per-class-per-day aggregation over the month;
- the search page's server response: the query endpoint's /search over HTTP.

The tables go to a bucket of their own (`<bucket>-queries`), so the viewer's data is left alone. Figures are
printed and returned, never asserted.
"""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from imgassets import layout, search, synthetic, table
from imgassets.bench import raw_detector, synthetic_photos
from imgassets.query import Catalog, HourRange
from imgassets.settings import Settings
from imgassets.storage import ObjectStore

SEARCH = (search.Condition("person", 3), search.Condition("bus", 1))
AGGREGATION = (
    "SELECT date_trunc('day', upload_hour) AS day, label, count(*) AS detections "
    "FROM detections GROUP BY 1, 2 ORDER BY 1, 2"
)


def generate(store: ObjectStore, hours: HourRange, images_per_hour: int, log: Callable[[str], None]) -> dict:
    """Writes the range's hour tables; returns how many images and detections."""
    rng_seed = 20261125
    totals = {"hours": 0, "images": 0, "detections": 0, "bytes": 0}
    lock = threading.Lock()

    def one(index_hour: tuple[int, datetime]) -> None:
        index, hour = index_hour
        tables = synthetic.hour_tables(hour, images_per_hour, np.random.default_rng(rng_seed + index))
        written = table.write_hour(store, layout.partition_key(hour), tables)
        with lock:
            totals["hours"] += 1
            totals["images"] += tables.images.num_rows
            totals["detections"] += tables.detections.num_rows
            totals["bytes"] += sum(written.values())
            if totals["hours"] % 120 == 0:
                log(f"  {totals['hours']} hours, {totals['detections']:,} detections")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, enumerate(hours.hours())))
    return totals


def _timed(action: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Seconds of the first call (cold) and of `repeats` more (warm)."""
    started = time.perf_counter()
    action()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        warm.append(time.perf_counter() - started)
    return cold, warm


def _figures(cold: float, warm: list[float]) -> dict[str, float]:
    return {"cold_s": round(cold, 3), "warm_s": round(statistics.median(warm), 3), "warm_max_s": round(max(warm), 3)}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(
    settings: Settings,
    days: int,
    images_per_hour: int,
    repeats: int = 5,
    busy_hour_images: int = 100_000,
    log: Callable[[str], None] = print,
) -> dict:
    import uvicorn

    from imgassets import query_server

    bench = settings.model_copy(update={"s3_bucket": f"{settings.s3_bucket}-queries"[:63]})
    store = ObjectStore.from_settings(bench)
    store.ensure_bucket()
    end = layout.floor_hour(datetime.now(UTC)) + timedelta(hours=1)
    hours = HourRange(end - timedelta(days=days), end)
    log(f"writing {days} days × 24 hours × {images_per_hour} images of synthetic tables to s3://{bench.s3_bucket} …")
    started = time.perf_counter()
    generated = generate(store, hours, images_per_hour, log)
    generated["seconds"] = round(time.perf_counter() - started, 1)
    size = generated["bytes"] / 2**20
    log(f"  {generated['detections']:,} detections in {generated['images']:,} images, {size:.1f} MiB of Parquet")

    wanted = search.Search(hours=hours, conditions=SEARCH)
    catalog = Catalog(bench)
    figures: dict[str, Any] = {"generated": generated}
    figures["month_search"] = _figures(*_timed(lambda: search.run(catalog, wanted), repeats))
    figures["month_search"]["matches"] = search.run(catalog, wanted).total
    catalog = Catalog(bench)
    figures["class_per_day"] = _figures(*_timed(lambda: catalog.query(AGGREGATION, hours), repeats))

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(query_server.app(bench), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> Callable[[], dict]:
        def fetch() -> dict:
            with urllib.request.urlopen(base + path, timeout=120) as response:
                return json.loads(response.read())

        return fetch

    # One busy hour, a day before the month: its hour page, filtered and paged in the query.
    busy = hours.start - timedelta(days=1)
    busy_partition = layout.partition_key(busy)
    log(f"writing one busy hour of {busy_hour_images:,} images ({busy_partition}) …")
    tables = synthetic.hour_tables(busy, busy_hour_images, np.random.default_rng(7))
    table.write_hour(store, busy_partition, tables)
    figures["busy_hour"] = {"images": tables.images.num_rows, "detections": tables.detections.num_rows}
    try:
        figures["search_page_response"] = _figures(
            *_timed(get(f"/search?last={days}d&class=person:3&class=bus:1&page_size=48"), repeats)
        )
        figures["busy_hour_page"] = _figures(*_timed(get(f"/hours/{busy_partition}?page=50&page_size=48"), repeats))
        figures["busy_hour_filtered"] = _figures(
            *_timed(get(f"/hours/{busy_partition}?class=car&min=2&source=gate&page=3&page_size=48"), repeats)
        )
    finally:
        server.should_exit = True
        thread.join(10)
    for name in ("month_search", "class_per_day", "search_page_response", "busy_hour_page", "busy_hour_filtered"):
        measured = figures[name]
        log(f"{name:22} cold {measured['cold_s']:.3f} s   warm {measured['warm_s']:.3f} s (median of {repeats})")
    log("raw detector rate of this machine (for scale) …")
    figures["raw_detector"] = raw_detector(settings, synthetic_photos(60))
    log(f"  {figures['raw_detector']['images_per_s']} img/s ({figures['raw_detector']['backend']})")
    return figures
