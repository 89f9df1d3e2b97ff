"""Stored candidate boxes: what one forward pass found in each image, above a low floor, so a detector version
that changes only its thresholds or classes is computed without running the network again.

One Parquet object per run and hour (layout.candidates_key), one row per image: its size and its candidates as
flat lists (boxes cx, cy, w, h relative to the image, float32 as the network gave them, so `select` on them is
exactly what it would be on the network's rows).
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from imgassets.core import failures, layout
from imgassets.core.storage import ObjectStore
from imgassets.detector.postprocess import Candidates

SCHEMA = pa.schema(
    [
        ("image_key", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("boxes", pa.list_(pa.float32())),
        ("class_ids", pa.list_(pa.int32())),
        ("scores", pa.list_(pa.float32())),
    ]
)


def write(store: ObjectStore, key: str, found: Mapping[str, Candidates]) -> int:
    """Writes one run's candidates (image key → candidates); returns the bytes written."""
    keys = sorted(found)
    table = pa.table(
        {
            "image_key": keys,
            "width": [found[k].width for k in keys],
            "height": [found[k].height for k in keys],
            "boxes": [found[k].boxes.reshape(-1) for k in keys],
            "class_ids": [found[k].class_ids for k in keys],
            "scores": [found[k].scores for k in keys],
        },
        schema=SCHEMA,
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    store.put_bytes(key, buffer.getvalue(), "application/vnd.apache.parquet")
    return buffer.tell()


def read_hour(store: ObjectStore, forward_id: str, partition: str) -> tuple[dict[str, Candidates], dict[str, str]]:
    """Every image's candidates stored for the hour under `forward_id` (an image processed twice has the same
    candidates both times: its key holds its content hash and the network is deterministic), and the objects that
    could not be read (key → reason): each costs only itself, its images go through the network again.
    Infrastructure errors still raise (`failures.item_reason`)."""
    found: dict[str, Candidates] = {}
    unreadable: dict[str, str] = {}
    for key in store.list_keys(layout.candidates_prefix(forward_id, partition)):
        try:
            found |= _parse(store.get(key).data)
        except Exception as exc:  # one run's candidates: the per-object boundary
            unreadable[key] = failures.item_reason(exc)
    return found, unreadable


def _parse(data: bytes) -> dict[str, Candidates]:
    columns = pq.read_table(io.BytesIO(data), schema=SCHEMA).to_pydict()
    return {
        image_key: Candidates(
            width=columns["width"][index],
            height=columns["height"][index],
            boxes=np.asarray(columns["boxes"][index], dtype=np.float32).reshape(-1, 4),
            class_ids=np.asarray(columns["class_ids"][index], dtype=np.int32),
            scores=np.asarray(columns["scores"][index], dtype=np.float32),
        )
        for index, image_key in enumerate(columns["image_key"])
    }
