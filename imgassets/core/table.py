"""The hour as two columnar tables (Parquet, written with pyarrow): one row per detection and one row per image.

They are what queries across all time read (`imgassets query`, the viewer's search and hour pages): DuckDB reads
only the hours asked for, and only the columns and row groups a query needs. The layout is Hive-style
(`date=…/hour=…`), so Trino, Spark or Athena can read `tables/<table>/` as a partitioned table.

Append, then compact: each run writes only its own images' rows, as its own object of the hour
(`layout.table_part_key`, named by the run, so a retry rewrites it), and costs the same early and late in a busy
hour. A compaction merges the hour's parts into one object (`layout.table_key`). An image in several objects (a
replay, a re-processed batch, a backfill racing a late run) counts once wherever it is read: its latest processed
row wins (ties: the larger run id), and its detections are that row's (`latest`). So a query gives the same answer
before and after a compaction, and a compaction that races a late run loses nothing: it deletes only the parts it
merged.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from imgassets.core import layout
from imgassets.core.records import DetectionRecord
from imgassets.core.storage import ObjectStore

_TIME = pa.timestamp("us", tz="UTC")
#: Columns of both tables: which image, from where, when, and the detector configuration that produced it.
_COMMON = [
    pa.field("image_key", pa.string(), nullable=False),
    pa.field("source", pa.string(), nullable=False),
    pa.field("upload_hour", _TIME, nullable=False),
    pa.field("uploaded_at", _TIME),
    #: When the image was taken (else uploaded); hours written before it existed read it as null.
    pa.field("captured_at", _TIME),
    pa.field("processed_at", _TIME, nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("backend", pa.string(), nullable=False),
    pa.field("input_size", pa.int16(), nullable=False),
    pa.field("confidence_threshold", pa.float32(), nullable=False),
    pa.field("nms_threshold", pa.float32(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
]
DETECTIONS = pa.schema(
    [
        *_COMMON,
        pa.field("label", pa.string(), nullable=False),
        pa.field("class_id", pa.int16(), nullable=False),
        pa.field("confidence", pa.float32(), nullable=False),
        pa.field("box_x", pa.int32(), nullable=False),
        pa.field("box_y", pa.int32(), nullable=False),
        pa.field("box_w", pa.int32(), nullable=False),
        pa.field("box_h", pa.int32(), nullable=False),
    ]
)
IMAGES = pa.schema(
    [
        *_COMMON,
        pa.field("detection_key", pa.string(), nullable=False),
        pa.field("width", pa.int32(), nullable=False),
        pa.field("height", pa.int32(), nullable=False),
        pa.field("objects", pa.int32(), nullable=False),
        pa.field("counts", pa.map_(pa.string(), pa.int32()), nullable=False),
    ]
)
SCHEMAS = {"detections": DETECTIONS, "images": IMAGES}


@dataclass(frozen=True)
class HourTables:
    detections: pa.Table
    images: pa.Table

    def of(self, name: str) -> pa.Table:
        return self.detections if name == "detections" else self.images


def _common(record: DetectionRecord, upload_hour: datetime) -> dict[str, object]:
    return {
        "image_key": record.image_key,
        "source": record.source,
        "upload_hour": upload_hour,
        "uploaded_at": record.provenance.uploaded_at,
        "captured_at": record.captured_at,
        "processed_at": record.provenance.processed_at,
        "model": record.model_used,
        "backend": record.backend,
        "input_size": record.input_size,
        "confidence_threshold": record.confidence_threshold,
        "nms_threshold": record.nms_threshold,
        "run_id": record.provenance.dagster_run_id,
    }


def from_records(records: Iterable[DetectionRecord]) -> HourTables:
    """The rows of these records (each image once: the latest processed wins)."""
    latest: dict[str, DetectionRecord] = {}
    for record in sorted(records, key=lambda r: r.provenance.processed_at):
        latest[record.image_key] = record
    detection_rows: list[dict[str, object]] = []
    image_rows: list[dict[str, object]] = []
    for record in sorted(latest.values(), key=lambda r: (r.provenance.processed_at, r.image_key), reverse=True):
        parsed = layout.parse_image_key(record.image_key)
        common = _common(record, parsed.hour)
        image_rows.append(
            common
            | {
                "detection_key": parsed.detection_key,
                "width": record.image_width,
                "height": record.image_height,
                "objects": len(record.detections),
                "counts": list(record.counts.items()),
            }
        )
        for found in record.detections:
            detection_rows.append(
                common
                | {
                    "label": found.label,
                    "class_id": found.class_id,
                    "confidence": found.confidence,
                    "box_x": found.box.x,
                    "box_y": found.box.y,
                    "box_w": found.box.w,
                    "box_h": found.box.h,
                }
            )
    return HourTables(
        detections=pa.Table.from_pylist(detection_rows, schema=DETECTIONS),
        images=pa.Table.from_pylist(image_rows, schema=IMAGES),
    )


def conform(stored: pa.Table, schema: pa.Schema) -> pa.Table:
    """A stored hour in the current schema: columns added since it was written read as nulls."""
    columns = [
        stored.column(field.name) if field.name in stored.column_names else pa.nulls(stored.num_rows, field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, names=schema.names).cast(schema)


def latest(tables: HourTables) -> HourTables:
    """Each image once: its latest processed row (ties: the larger run id), and only that row's detections."""
    images = tables.images
    if images.num_rows == 0:
        return tables
    order = pc.sort_indices(
        images, [("image_key", "ascending"), ("processed_at", "descending"), ("run_id", "descending")]
    )
    ranked = images.take(order)
    keys = ranked.column("image_key").combine_chunks()
    first = pa.concat_arrays([pa.array([True]), pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))])
    winners = ranked.filter(first)

    def row_ids(table: pa.Table) -> pa.Array:
        return pc.binary_join_element_wise(table.column("image_key"), table.column("run_id"), "\x00")

    detections = tables.detections.filter(pc.is_in(row_ids(tables.detections), value_set=row_ids(winners)))
    return HourTables(detections=detections, images=winners)


def _newest_first(tables: HourTables) -> HourTables:
    def ordered(table: pa.Table) -> pa.Table:
        return table.sort_by([("processed_at", "descending"), ("image_key", "descending")])

    return HourTables(detections=ordered(tables.detections), images=ordered(tables.images))


def _read(store: ObjectStore, key: str, name: str) -> pa.Table:
    return conform(pq.read_table(io.BytesIO(store.get(key).data)), SCHEMAS[name])


def hour_objects(store: ObjectStore, partition: str) -> dict[str, list[str]]:
    """The keys of the hour's objects per table: the compacted one (if any) first, then the runs' parts."""
    found = {}
    for name in layout.DETECTION_TABLES:
        keys = sorted(store.list_keys(layout.table_hour_prefix(name, partition)))
        compacted = layout.table_key(name, partition)
        found[name] = ([compacted] if compacted in keys else []) + [key for key in keys if key != compacted]
    return found


def hour_signature(store: ObjectStore, partition: str) -> str | None:
    """A digest of the hour's table objects as listed (each one's key, ETag and size), None when it has none: it
    changes whenever a run appends a part, a compaction merges them or a backfill rewrites the hour, so what reads
    the whole hour (tracking) can tell whether it changed for one LIST per table, without reading a row."""
    listed = sorted(
        f"{key} {etag} {size}"
        for name in layout.DETECTION_TABLES
        for key, etag, size in store.list_objects(layout.table_hour_prefix(name, partition))
    )
    return hashlib.sha256("\n".join(listed).encode()).hexdigest()[:20] if listed else None


def read_hour(store: ObjectStore, partition: str) -> HourTables | None:
    """The hour's rows, from its compacted object and the runs' parts alike (each image once: `latest`); None
    when it has none yet."""
    found = hour_objects(store, partition)
    if not any(found.values()):
        return None
    read = {
        name: pa.concat_tables([_read(store, key, name) for key in keys]) if keys else SCHEMAS[name].empty_table()
        for name, keys in found.items()
    }
    return _newest_first(latest(HourTables(detections=read["detections"], images=read["images"])))


def _write(store: ObjectStore, key: str, table: pa.Table) -> int:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=65_536)
    store.put_bytes(key, buffer.getvalue(), "application/vnd.apache.parquet")
    return buffer.tell()


def write_part(store: ObjectStore, partition: str, run_id: str, tables: HourTables) -> dict[str, int]:
    """Appends a run's rows to the hour as that run's own objects (zstd); returns the bytes written per table.
    The images table is written last: a part is read only once both of its objects exist."""
    ordered = _newest_first(tables)
    return {
        name: _write(store, layout.table_part_key(name, partition, run_id), ordered.of(name))
        for name in ("detections", "images")
    }


def write_hour(store: ObjectStore, partition: str, tables: HourTables) -> dict[str, int]:
    """Writes both tables of the hour as its compacted objects (zstd; row groups of 64k rows), every image once;
    returns the bytes written per table."""
    return _write_compacted(store, partition, _newest_first(latest(tables)))


def _write_compacted(store: ObjectStore, partition: str, rows: HourTables) -> dict[str, int]:
    """Writes rows already reduced to each image's latest and sorted as the hour's compacted objects."""
    return {name: _write(store, layout.table_key(name, partition), rows.of(name)) for name in layout.DETECTION_TABLES}


def rebuild_hour(
    store: ObjectStore, partition: str, rows: Callable[[], HourTables]
) -> tuple[HourTables, dict[str, int]]:
    """Replaces the hour with `rows()` (a backfill: every record of the hour) as its compacted objects. The runs'
    parts there before `rows` is called hold nothing newer than it reads, and are deleted; a part written meanwhile
    (a late run) stays, and counts as usual (each image's latest row). Returns the rows and the bytes written per
    table."""
    superseded = hour_objects(store, partition)
    tables = rows()
    written = write_hour(store, partition, tables)
    for name, keys in superseded.items():
        for key in keys:
            if key != layout.table_key(name, partition):
                store.delete(key)
    return tables, written


@dataclass(frozen=True)
class Compaction:
    partition: str
    #: Run parts merged (and deleted), per table.
    merged: dict[str, int]
    images: int
    detections: int
    written_bytes: int


def compact_hour(store: ObjectStore, partition: str) -> Compaction:
    """Merges the hour's run parts into its compacted objects, then deletes the parts it merged (a part written
    meanwhile stays, for the next compaction). Compactions of one hour must not overlap (the `hour_rollup` pool):
    the later write would drop the other's parts."""
    found = hour_objects(store, partition)
    parts = {name: [key for key in keys if key != layout.table_key(name, partition)] for name, keys in found.items()}
    # A run writes its images part last: a part whose images object is not there yet is left for next time.
    ready = {layout.parse_table_key(key).run_id for key in parts["images"]}
    merged = {
        name: [key for key in keys if layout.parse_table_key(key).run_id in ready] for name, keys in parts.items()
    }
    if not any(merged.values()):
        return Compaction(partition, {name: 0 for name in found}, 0, 0, 0)
    compacted = {name: [key for key in found[name] if key not in parts[name]] + merged[name] for name in found}
    tables = HourTables(
        detections=pa.concat_tables([_read(store, key, "detections") for key in compacted["detections"]]),
        images=pa.concat_tables([_read(store, key, "images") for key in compacted["images"]]),
    )
    rows = _newest_first(latest(tables))
    written = _write_compacted(store, partition, rows)
    for keys in merged.values():
        for key in keys:
            store.delete(key)
    return Compaction(
        partition,
        {name: len(keys) for name, keys in merged.items()},
        rows.images.num_rows,
        rows.detections.num_rows,
        sum(written.values()),
    )


def objects(tables: HourTables) -> int:
    """Detections the images table counts (what the detections table must hold)."""
    return int(pc.sum(tables.images.column("objects")).as_py() or 0)
