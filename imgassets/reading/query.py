"""Queries across all time, in place: DuckDB over the hours' Parquet tables in S3 (imgassets/core/table.py).

`imgassets query`, the viewer's search and hour pages (through `imgassets.reading.server`) and Python callers all
go through `Catalog`: it lists the objects of the asked hours only (one LIST per day and table, never the whole
bucket) and exposes them as the views `detections` and `images`.

Two ways to read, chosen per query by size:
- Ranges whose objects fit the memory bound (`IMGASSETS_QUERY_CACHE_MIB`; a month of a busy deployment does) are
  fetched whole, in parallel, and kept as Arrow tables keyed by key and ETag, so the next query over them reads
  nothing from S3 (the LIST it does anyway says whether an hour changed). Each hour is one small object, so
  fetching it whole costs less than DuckDB's per-file HTTP round trips.
- Larger ranges are streamed by DuckDB itself through its httpfs extension (from the `duckdb-ext-httpfs` wheel:
  extensions cannot be downloaded at run time here), which fetches only the columns and row groups a query needs.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from imgassets.core import failures, layout, table
from imgassets.core.settings import Settings
from imgassets.core.storage import ObjectStore
from imgassets.tracking import tables

#: Every table's schema, by view name.
SCHEMAS = table.SCHEMAS | tables.SCHEMAS
_AGE = re.compile(r"(\d+)\s*([hdw])", re.ASCII)
_AGE_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
#: Concurrent reads of Arrow's S3 client (the hour objects are small: reading them is latency-bound).
_IO_THREADS = 64
#: Arrow bytes per Parquet byte of the tables (zstd, dictionary-encoded strings), for the memory bound.
_DECODED_PER_STORED_BYTE = 8
#: Longest range one query may span (a year of hours); a larger one is almost certainly a typo.
MAX_HOURS = 24 * 366


class QueryError(ValueError):
    """A query that cannot run as asked: bad range, bad SQL, missing extension; the message says which."""


class TablesUnavailable(RuntimeError):
    """S3 or a table object cannot be read (an infrastructure failure, not the query's fault)."""


@contextmanager
def translated_errors() -> Iterator[None]:
    """DuckDB's and S3's errors as the two kinds callers answer differently: the query's fault (`QueryError`)
    or the storage's (`TablesUnavailable`)."""
    try:
        yield
    except (QueryError, TablesUnavailable):
        raise
    except (duckdb.IOException, duckdb.HTTPException) as exc:
        raise TablesUnavailable(str(exc).splitlines()[0]) from None
    except duckdb.Error as exc:
        raise QueryError(str(exc).splitlines()[0]) from None
    except Exception as exc:
        if failures.is_infrastructure(exc):
            raise TablesUnavailable(failures.describe(exc)) from None
        raise


def httpfs_extension() -> Path:
    """The httpfs extension shipped by the duckdb-ext-httpfs wheel, for this DuckDB version."""
    spec = importlib.util.find_spec("duckdb_ext")
    roots = list(spec.submodule_search_locations or []) if spec else []
    version = f"v{duckdb.__version__}"
    for root in roots:
        found = Path(root) / "extensions" / version / "linux_amd64" / "httpfs.duckdb_extension"
        if found.exists():
            return found
    raise QueryError(f"DuckDB's httpfs extension for {version} is not installed (pip install duckdb-ext-httpfs)")


@dataclass(frozen=True)
class HourRange:
    """Upload hours from `start` (inclusive) to `end` (exclusive), both whole UTC hours."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise QueryError(f"empty range: {self.start:%Y-%m-%d %H:00} is not before {self.end:%Y-%m-%d %H:00}")
        if self.end - self.start > timedelta(hours=MAX_HOURS):
            raise QueryError(f"range too long: at most {MAX_HOURS} hours")

    @classmethod
    def parse(cls, start: str | None, end: str | None, last: str | None, now: datetime | None = None) -> HourRange:
        """`--from/--to` (an ISO date or time, or an hour partition key; `--to` defaults to now) or `--last 7d`
        (hours, days or weeks back from now, the current hour included)."""
        current = layout.floor_hour(now or datetime.now(UTC)) + timedelta(hours=1)
        if last is not None:
            if start is not None or end is not None:
                raise QueryError("give either the last hours/days/weeks or a start and end, not both")
            match = _AGE.fullmatch(last.strip())
            if match is None:
                raise QueryError(f"the last hours/days/weeks are written like 6h, 7d or 2w, not {last!r}")
            return cls(current - int(match[1]) * _AGE_UNITS[match[2]], current)
        if start is None:
            raise QueryError("give a range: the last hours/days/weeks (e.g. 7d), or a start (and optionally an end)")
        return cls(parse_moment(start), parse_moment(end) if end is not None else current)

    def hours(self) -> Iterator[datetime]:
        hour = self.start
        while hour < self.end:
            yield hour
            hour += timedelta(hours=1)

    def days(self) -> list[datetime]:
        return sorted({hour.replace(hour=0) for hour in self.hours()})


def parse_moment(text: str) -> datetime:
    """An hour partition key (2026-11-25-04:00), an ISO date (2026-11-25) or time; UTC unless it says otherwise.
    Floored to its hour."""
    try:
        return layout.parse_partition(text)
    except layout.InvalidKey:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(
            f"not a time: {text!r} (expected e.g. 2026-11-25, 2026-11-25T04:00 or 2026-11-25-04:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return layout.floor_hour(moment)


@dataclass
class Catalog:
    """A DuckDB connection that reads the pipeline's tables in S3. Thread-safe for concurrent queries (each gets
    its own cursor); the hours kept in memory and DuckDB's Parquet metadata cache are shared."""

    settings: Settings
    _connection: duckdb.DuckDBPyConnection | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    #: (key, ETag) → the hour's table, least recently used first; bounded by `cache_bytes`.
    _hours: OrderedDict[tuple[str, str], pa.Table] = field(default_factory=OrderedDict, init=False, repr=False)
    _cached_bytes: int = field(default=0, init=False, repr=False)

    @property
    def cache_bytes(self) -> int:
        return self.settings.query_cache_mib * 2**20

    @cached_property
    def store(self) -> ObjectStore:
        return ObjectStore.from_settings(self.settings)

    def connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            return self._connection

    def _connect(self) -> duckdb.DuckDBPyConnection:
        key_id, secret = self.settings.require_s3_credentials()
        endpoint = urlparse(self.settings.s3_endpoint_url or "https://s3.amazonaws.com")
        connection = duckdb.connect(config={"threads": 4})
        connection.execute(f"INSTALL '{_literal(str(httpfs_extension()))}'")
        connection.execute("LOAD httpfs")
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute("SET enable_http_metadata_cache = true")
        connection.execute("SET parquet_metadata_cache = true")
        options = {
            "KEY_ID": key_id,
            "SECRET": secret,
            "REGION": self.settings.s3_region,
            "ENDPOINT": endpoint.netloc or endpoint.path,
            "URL_STYLE": "vhost" if self.settings.s3_addressing_style == "virtual" else "path",
        }
        listed = ", ".join(f"{name} '{_literal(value)}'" for name, value in options.items())
        use_ssl = "true" if endpoint.scheme == "https" else "false"
        connection.execute(f"CREATE SECRET imgassets_s3 (TYPE s3, {listed}, USE_SSL {use_ssl})")
        return connection

    def listed(self, name: str, hours: HourRange | Iterable[datetime]) -> list[tuple[str, str, int]]:
        """Key, ETag and size of table `name`'s objects of these hours (compacted and runs' parts): one LIST per
        day (in parallel), only the days asked for."""
        wanted = set(hours.hours() if isinstance(hours, HourRange) else hours)
        days = sorted({hour.replace(hour=0) for hour in wanted})
        store = self.store

        def in_range(key: str) -> bool:
            try:
                return layout.parse_table_key(key).hour in wanted
            except layout.InvalidKey:  # not a table object (written by something else): not a row of it
                return False

        with ThreadPoolExecutor(max_workers=16) as pool:
            found = pool.map(lambda day: list(store.list_objects(layout.table_day_prefix(name, day))), days)
            return sorted(item for listed in found for item in listed if in_range(item[0]))

    def cursor(self, hours: HourRange, tables: Sequence[str] = layout.TABLE_NAMES) -> duckdb.DuckDBPyConnection:
        """A cursor on which the views `tables` (both by default) are the range's rows (empty when it has none)."""
        cursor = self.connection().cursor()
        for name in tables:
            self.expose(cursor, name, self.listed(name, hours))
        return cursor

    def expose(self, cursor: duckdb.DuckDBPyConnection, name: str, objects: list[tuple[str, str, int]]) -> None:
        """Makes `objects` of table `name` the view `name` on `cursor`: in memory if they fit, else streamed. The
        hours whose runs' parts are not compacted yet are read in memory, each image once (`table.latest`)."""
        compacted, parted = _by_compaction(objects)
        appended = self._latest_rows(name, parted) if parted else None
        if not compacted:
            cursor.register(name, appended if appended is not None else SCHEMAS[name].empty_table())
        elif sum(size for _, _, size in compacted) * _DECODED_PER_STORED_BYTE <= self.cache_bytes:
            rows = self._in_memory(compacted, name)
            cursor.register(name, rows if appended is None else pa.concat_tables([rows, appended]))
        else:
            listed = ", ".join(f"'s3://{self.settings.s3_bucket}/{_literal(key)}'" for key, _, _ in compacted)
            # union_by_name: hours written before a column was added read it as null.
            select = f"SELECT * FROM read_parquet([{listed}], union_by_name = true)"
            if appended is not None:
                cursor.register(f"_appended_{name}", appended)
                select += f" UNION ALL BY NAME SELECT * FROM _appended_{name}"
            cursor.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")

    def _latest_rows(self, name: str, parted: dict[datetime, list[tuple[str, str, int]]]) -> pa.Table:
        """Table `name`'s rows of hours that have runs' parts, each image once: which row of an image is its
        latest is read from the images table, so the detections table needs those hours' images objects too."""
        if name not in table.SCHEMAS:  # the track tables are written whole per hour, never in parts
            return pa.concat_tables([self._in_memory(objects, name) for objects in parted.values()])
        images = {
            hour: objects if name == "images" else self._hour_objects("images", hour)
            for hour, objects in parted.items()
        }
        found = [
            table.latest(
                table.HourTables(
                    detections=self._in_memory(objects, "detections") if name == "detections" else _EMPTY_DETECTIONS,
                    images=self._in_memory(images[hour], "images"),
                )
            ).of(name)
            for hour, objects in parted.items()
        ]
        return pa.concat_tables(found)

    def _hour_objects(self, name: str, hour: datetime) -> list[tuple[str, str, int]]:
        return sorted(self.store.list_objects(layout.table_hour_prefix(name, layout.partition_key(hour))))

    def _in_memory(self, objects: list[tuple[str, str, int]], name: str) -> pa.Table:
        """The objects' rows as one Arrow table: cached hours as they are, the others read in parallel by Arrow's
        S3 client (C++: no per-request Python, unlike boto3)."""
        with self._lock:
            cached = {(key, etag): self._hours.get((key, etag)) for key, etag, _ in objects}
            for found, hour in cached.items():
                if hour is not None:
                    self._hours.move_to_end(found)
        missing = [found for found, hour in cached.items() if hour is None]
        if missing:
            for found, hour in zip(missing, self._scan(name, [key for key, _ in missing]), strict=True):
                cached[found] = hour
            with self._lock:
                for found in missing:
                    self._remember(found, cached[found])
        return pa.concat_tables([hour for hour in cached.values() if hour is not None])

    def _scan(self, name: str, keys: list[str]) -> list[pa.Table]:
        """The hour objects at `keys`, in that order: one parallel scan by Arrow's S3 client (C++: no per-request
        Python, unlike boto3), its batches grouped back by object."""
        schema = SCHEMAS[name]
        paths = [f"{self.settings.s3_bucket}/{key}" for key in keys]
        dataset = pads.FileSystemDataset.from_paths(
            paths, schema=schema, format=pads.ParquetFileFormat(), filesystem=self._arrow_s3()
        )
        pa.set_io_thread_count(max(pa.io_thread_count(), _IO_THREADS))  # many small objects: latency-bound
        batches: dict[str, list[pa.RecordBatch]] = {path: [] for path in paths}
        for tagged in pads.Scanner.from_dataset(dataset, fragment_readahead=256).scan_batches():
            batches[tagged.fragment.path].append(tagged.record_batch)
        return [pa.Table.from_batches(batches[path], schema=schema) for path in paths]

    def _arrow_s3(self) -> pafs.S3FileSystem:
        key_id, secret = self.settings.require_s3_credentials()
        endpoint = urlparse(self.settings.s3_endpoint_url or "https://s3.amazonaws.com")
        return pafs.S3FileSystem(
            access_key=key_id,
            secret_key=secret,
            region=self.settings.s3_region,
            endpoint_override=endpoint.netloc or None,
            scheme=endpoint.scheme or "https",
            force_virtual_addressing=self.settings.s3_addressing_style == "virtual",
        )

    def _remember(self, found: tuple[str, str], hour: pa.Table) -> None:
        if found in self._hours:
            return
        self._hours[found] = hour
        self._cached_bytes += hour.nbytes
        while self._cached_bytes > self.cache_bytes and self._hours:
            _, dropped = self._hours.popitem(last=False)
            self._cached_bytes -= dropped.nbytes

    def query(self, sql: str, hours: HourRange, parameters: Sequence[object] | None = None) -> pa.Table:
        """Runs `sql` over the range's `detections` and `images`; the result as an Arrow table."""
        referenced = [name for name in layout.TABLE_NAMES if re.search(rf"\b{name}\b", sql, re.IGNORECASE)]
        with translated_errors():
            cursor = self.cursor(hours, tables=referenced or layout.TABLE_NAMES)  # read only what the SQL names
            try:
                return cursor.execute(sql, parameters or []).fetch_arrow_table()
            finally:
                cursor.close()


_EMPTY_DETECTIONS = table.DETECTIONS.empty_table()


def _by_compaction(
    objects: list[tuple[str, str, int]],
) -> tuple[list[tuple[str, str, int]], dict[datetime, list[tuple[str, str, int]]]]:
    """The objects of hours that are one compacted object, and (by hour) those of hours with runs' parts."""
    by_hour: dict[datetime, list[tuple[str, str, int]]] = {}
    for found in objects:
        by_hour.setdefault(layout.parse_table_key(found[0]).hour, []).append(found)
    compacted = [
        found
        for listed in by_hour.values()
        if len(listed) == 1 and layout.parse_table_key(listed[0][0]).run_id is None
        for found in listed
    ]
    parted = {
        hour: listed
        for hour, listed in by_hour.items()
        if len(listed) > 1 or layout.parse_table_key(listed[0][0]).run_id is not None
    }
    return compacted, parted


def _literal(text: str) -> str:
    """`text` inside a single-quoted SQL string."""
    return text.replace("'", "''")


def query(sql: str, hours: HourRange, settings: Settings, parameters: Sequence[object] | None = None) -> pa.Table:
    """One query, from Python: `query("SELECT label, count(*) FROM detections GROUP BY 1", HourRange.parse(None,
    None, "7d"), load_settings())`."""
    return Catalog(settings).query(sql, hours, parameters)


def write(result: pa.Table, output_format: str, output: Path | None) -> None:
    """`result` as a table, CSV, JSON lines or Parquet, to `output` or stdout."""
    import sys

    if output_format == "parquet":
        assert output is not None
        pq.write_table(result, output, compression="zstd")
        return
    if output_format == "table":
        text = str(duckdb.from_arrow(result)) if result.num_rows else "(no rows)\n"
        data = text.encode()
    elif output_format == "csv":
        buffer = io.BytesIO()
        pacsv.write_csv(result, buffer)
        data = buffer.getvalue()
    else:
        lines = [json.dumps(row, default=str) for row in result.to_pylist()]
        data = ("\n".join(lines) + ("\n" if lines else "")).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
