"""The hour as two columnar tables (Parquet, written with pyarrow): one row per detection and one row per image.

They are what queries across all time read (`imgassets query`, the viewer's search and hour pages): DuckDB reads
only the hours asked for, and only the columns and row groups a query needs. Each hour is one object per table
(`layout.table_key`), rewritten whole, so a replay or a backfill replaces rows instead of adding them. The layout
is Hive-style (`date=…/hour=…`), so Trino, Spark or Athena can read `tables/<table>/` as a partitioned table.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
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


def merge(old: HourTables | None, new: HourTables) -> HourTables:
    """`new` rows replace the rows of the same images in `old` (a replayed or reprocessed image); newest first."""
    if old is None:
        return new
    replaced = new.images.column("image_key")

    def combined(name: str) -> pa.Table:
        kept = old.of(name).filter(pc.invert(pc.is_in(old.of(name).column("image_key"), value_set=replaced)))
        return pa.concat_tables([new.of(name), conform(kept, SCHEMAS[name])]).sort_by(
            [("processed_at", "descending"), ("image_key", "descending")]
        )

    return HourTables(detections=combined("detections"), images=combined("images"))


def read_hour(store: ObjectStore, partition: str) -> HourTables | None:
    """The hour's stored tables, or None when it has none yet."""
    found = {name: store.get_optional(layout.table_key(name, partition)) for name in layout.DETECTION_TABLES}
    if any(stored is None for stored in found.values()):
        return None
    tables = {
        name: conform(pq.read_table(io.BytesIO(stored.data)), SCHEMAS[name])
        for name, stored in found.items()
        if stored is not None
    }
    return HourTables(detections=tables["detections"], images=tables["images"])


def write_hour(store: ObjectStore, partition: str, tables: HourTables) -> dict[str, int]:
    """Writes both tables of the hour (zstd; row groups of 64k rows); returns the bytes written per table."""
    written = {}
    for name in layout.DETECTION_TABLES:
        buffer = io.BytesIO()
        pq.write_table(tables.of(name), buffer, compression="zstd", row_group_size=65_536)
        store.put_bytes(layout.table_key(name, partition), buffer.getvalue(), "application/vnd.apache.parquet")
        written[name] = buffer.tell()
    return written


def objects(tables: HourTables) -> int:
    """Detections the images table counts (what the detections table must hold)."""
    return int(pc.sum(tables.images.column("objects")).as_py() or 0)
