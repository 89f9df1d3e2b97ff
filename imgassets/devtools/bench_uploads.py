"""The bench's images through the pipeline: the items it uploads, named by phase, and their detection records,
waited for and read back from S3 (the records' own timestamps time the pipeline, not the bench's polling)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from imgassets.core import layout
from imgassets.core.messages import Source
from imgassets.core.records import DetectionRecord
from imgassets.core.storage import ObjectStore
from imgassets.ingest import media


def upload_items(photos: list[bytes], tag: str) -> list[media.Item]:
    """The photos as ingest items, named and sourced by `tag` (the bench's start time and phase)."""
    return [
        media.Item(data=p, name=f"bench-{tag}-{i:05d}.jpg", source=Source(path=f"bench/{tag}/{i}"))
        for i, p in enumerate(photos)
    ]


def await_detections(store: ObjectStore, keys: list[str], timeout: float) -> list[str]:
    """Polls hour listings until every image has a detection record; returns the record keys."""
    wanted = {layout.parse_image_key(k).detection_key for k in keys}
    partitions = {layout.parse_image_key(k).partition for k in keys}
    deadline = time.monotonic() + timeout
    while True:
        present: set[str] = set()
        for partition in partitions:
            present.update(store.list_keys(layout.detections_prefix(partition)))
        if wanted <= present:
            return sorted(wanted)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(wanted - present)} of {len(wanted)} detection records missing after {timeout} s")
        time.sleep(2)  # timings come from the records, not from this poll; listing often costs the stack CPU


def read_records(store: ObjectStore, keys: list[str]) -> list[DetectionRecord]:
    """The records, read in parallel (one S3 GET each)."""
    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(lambda k: store.get_record(k, DetectionRecord), keys))
