"""`imgassets bench-queries`: a month of synthetic hour tables (over a million detections) in the local S3,
and the time of the queries users run over it, cold (a fresh DuckDB connection: no cached Parquet metadata) and
warm (the same connection again, as the query endpoint keeps it):

- a month-wide search ("at least 3 person AND at least 1 bus"), as the search page runs it;
- a per-class-per-day aggregation over the month;
- the search page's server response: the query endpoint's /search over HTTP;
- a 100k-image hour's page, plain and filtered (each endpoint measurement starts a fresh endpoint: cold).

The tables go to a bucket of their own (`<bucket>-queries`), so the viewer's data is left alone. Figures are
printed and returned, never asserted.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from imgassets.core import layout, table
from imgassets.core.settings import Settings
from imgassets.core.storage import ObjectStore
from imgassets.devtools import synthetic
from imgassets.devtools.bench_photos import synthetic_photos
from imgassets.devtools.raw_rate import raw_detector
from imgassets.reading import search, server
from imgassets.reading.query import Catalog, HourRange

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


def _timed(action: Callable[[], Any], repeats: int) -> tuple[dict[str, float], Any]:
    """Seconds of the first call (cold) and the median and maximum of `repeats` more (warm); and what the last
    call returned."""
    seconds = []
    for _ in range(1 + repeats):
        started = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - started)
    cold, warm = seconds[0], seconds[1:]
    figures = {"cold_s": round(cold, 3), "warm_s": round(statistics.median(warm), 3), "warm_max_s": round(max(warm), 3)}
    return figures, result


def _endpoint(settings: Settings, path: str, repeats: int) -> dict[str, float]:
    """GET `path` on a fresh query endpoint (nothing cached: cold), then again (warm)."""

    def fetch() -> dict:
        with urllib.request.urlopen(base + path, timeout=120) as response:
            return json.loads(response.read())

    with server.running(settings) as base:
        return _timed(fetch, repeats)[0]


def run(
    settings: Settings,
    days: int,
    images_per_hour: int,
    repeats: int = 5,
    busy_hour_images: int = 100_000,
    log: Callable[[str], None] = print,
) -> dict:
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
    figures: dict[str, Any] = {"generated": generated}
    catalog = Catalog(bench)
    figures["month_search"], found = _timed(lambda: search.run(catalog, wanted), repeats)
    figures["month_search"]["matches"] = found.total
    catalog = Catalog(bench)
    figures["class_per_day"], _ = _timed(lambda: catalog.query(AGGREGATION, hours), repeats)
    conditions = "&".join(f"class={condition}" for condition in SEARCH)
    figures["search_page_response"] = _endpoint(bench, f"/search?last={days}d&{conditions}&page_size=48", repeats)

    # One busy hour, a day before the month: its hour page, paged and filtered in the query.
    busy = hours.start - timedelta(days=1)
    busy_partition = layout.partition_key(busy)
    log(f"writing one busy hour of {busy_hour_images:,} images ({busy_partition}) …")
    tables = synthetic.hour_tables(busy, busy_hour_images, np.random.default_rng(7))
    table.write_hour(store, busy_partition, tables)
    figures["busy_hour"] = {"images": tables.images.num_rows, "detections": tables.detections.num_rows}
    figures["busy_hour_page"] = _endpoint(bench, f"/hours/{busy_partition}?page=50&page_size=48", repeats)
    figures["busy_hour_filtered"] = _endpoint(
        bench, f"/hours/{busy_partition}?class=car&min=2&source=gate&page=3&page_size=48", repeats
    )
    for name in ("month_search", "class_per_day", "search_page_response", "busy_hour_page", "busy_hour_filtered"):
        measured = figures[name]
        log(f"{name:22} cold {measured['cold_s']:.3f} s   warm {measured['warm_s']:.3f} s (median of {repeats})")
    log("raw detector rate of this machine (for scale) …")
    figures["raw_detector"] = raw_detector(settings, synthetic_photos(60))
    log(f"  {figures['raw_detector']['images_per_s']} img/s ({figures['raw_detector']['backend']})")
    return figures
