"""The hour's tracks as columnar tables (Parquet, like imgassets/core/table.py): one row per track and one row per
event (a line crossing or a zone visit), for `imgassets query` and the viewer's source page.

Each hour is one object per table, rewritten whole from every source's track document of the hour, so a
replay or a backfill replaces rows instead of adding them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from imgassets.core import layout
from imgassets.core.records import SourceTracks
from imgassets.core.storage import ObjectStore

_TIME = pa.timestamp("us", tz="UTC")
_COMMON = [
    pa.field("source", pa.string(), nullable=False),
    pa.field("upload_hour", _TIME, nullable=False),
    pa.field("version", pa.string(), nullable=False),
    pa.field("track_id", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
]
TRACKS = pa.schema(
    [
        *_COMMON,
        pa.field("first_seen", _TIME, nullable=False),
        pa.field("last_seen", _TIME, nullable=False),
        pa.field("frames", pa.int32(), nullable=False),
        #: The track went on from the previous hour (same id there).
        pa.field("continued", pa.bool_(), nullable=False),
        pa.field("crossings_in", pa.int32(), nullable=False),
        pa.field("crossings_out", pa.int32(), nullable=False),
        pa.field("zone_visits", pa.int32(), nullable=False),
        #: The anchor's path, image-relative, thinned to at most 32 points.
        pa.field("path", pa.list_(pa.struct([("x", pa.float32()), ("y", pa.float32())])), nullable=False),
    ]
)
EVENTS = pa.schema(
    [
        *_COMMON,
        pa.field("kind", pa.string(), nullable=False),  # crossing | zone
        pa.field("name", pa.string(), nullable=False),  # the line's or the zone's
        pa.field("direction", pa.string()),  # in | out (crossings)
        pa.field("happened_at", _TIME, nullable=False),  # when it crossed, or entered
        pa.field("left_at", _TIME),  # zones: the last frame inside
        pa.field("dwell_s", pa.float32()),
        pa.field("image_key", pa.string(), nullable=False),  # the frame it happened in (zones: entered)
    ]
)
SCHEMAS = {"tracks": TRACKS, "events": EVENTS}


def from_documents(documents: Iterable[SourceTracks]) -> dict[str, pa.Table]:
    track_rows: list[dict[str, object]] = []
    event_rows: list[dict[str, object]] = []
    for document in sorted(documents, key=lambda d: d.source):
        hour = layout.parse_partition(document.partition)
        for track in document.tracks:
            common = {
                "source": document.source,
                "upload_hour": hour,
                "version": document.version,
                "track_id": track.track_id,
                "label": track.label,
            }
            track_rows.append(
                common
                | {
                    "first_seen": track.first_seen,
                    "last_seen": track.last_seen,
                    "frames": track.frames,
                    "continued": track.continued,
                    "crossings_in": sum(c.direction == "in" for c in track.crossings),
                    "crossings_out": sum(c.direction == "out" for c in track.crossings),
                    "zone_visits": len(track.zones),
                    "path": [{"x": x, "y": y} for x, y in track.path],
                }
            )
            event_rows += [
                common
                | {
                    "kind": "crossing",
                    "name": c.line,
                    "direction": c.direction,
                    "happened_at": c.at,
                    "image_key": c.image_key,
                }
                for c in track.crossings
            ]
            event_rows += [
                common
                | {
                    "kind": "zone",
                    "name": visit.zone,
                    "happened_at": visit.entered_at,
                    "left_at": visit.left_at,
                    "dwell_s": visit.dwell_s,
                    "image_key": visit.image_key,
                }
                for visit in track.zones
            ]
    return {
        "tracks": pa.Table.from_pylist(track_rows, schema=TRACKS),
        "events": pa.Table.from_pylist(event_rows, schema=EVENTS),
    }


def write_hour(store: ObjectStore, partition: str, documents: Iterable[SourceTracks]) -> dict[str, int]:
    """Writes the hour's two track tables; returns the rows written per table."""
    tables = from_documents(documents)
    for name, rows in tables.items():
        buffer = io.BytesIO()
        pq.write_table(rows, buffer, compression="zstd")
        store.put_bytes(layout.table_key(name, partition), buffer.getvalue(), "application/vnd.apache.parquet")
    return {name: rows.num_rows for name, rows in tables.items()}
