"""Which images an hour's roll-up has counted lately: one 8-byte hash per image and the ordinal of the run that
counted it, sorted by hash, stored beside the roll-up (`layout.rollup_index_key`) as packed little-endian
(uint64, uint32) pairs. A run checks its own images against it and adds them, so an image that reaches the
roll-up twice (a message produced twice, offsets replayed: seconds to minutes apart) is seen, whichever runs bring
it.

It holds the images of the latest runs only, up to WINDOW images (whole runs; 192 KB): what a run reads and writes
stays the same early and late in a busy hour. An image brought again after WINDOW more images of its hour were
counted is counted twice in the hour's summary until the hour closes, when its compaction rebuilds the roll-up
from every shard (each image once). A collision among WINDOW images has a chance of about 1 in 10^11."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from imgassets.core import layout
from imgassets.core.storage import ObjectStore

#: How many of the latest counted images the record holds (whole runs: the newest run is always kept whole).
WINDOW = 16_384
_DTYPE = np.dtype([("hash", "<u8"), ("run", "<u4")])


def hashes(keys: Iterable[str]) -> np.ndarray:
    """The sorted, unique hashes of image keys."""
    digests = b"".join(hashlib.blake2b(key.encode(), digest_size=8).digest() for key in keys)
    return np.unique(np.frombuffer(digests, dtype="<u8"))


def counted(hashes_by_run: Iterable[tuple[int, np.ndarray]]) -> np.ndarray:
    """The record of runs' images given as (run ordinal, sorted unique hashes), oldest run first: an image in
    several runs is held by the latest; then cut to the window."""
    parts = [_entries(found, run) for run, found in hashes_by_run]
    if not parts:
        return np.empty(0, _DTYPE)
    whole = np.concatenate(parts)
    # Latest run first, then a stable sort by hash: np.unique keeps the first, the latest run's entry.
    whole = whole[np.argsort(-whole["run"].astype(np.int64), kind="stable")]
    _, first = np.unique(whole["hash"], return_index=True)
    return _windowed(whole[first])


def any_counted(record: np.ndarray, new: np.ndarray) -> bool:
    """Whether any of `new` (sorted hashes) is in the record."""
    held = record["hash"]
    if not len(held) or not len(new):
        return False
    at = np.minimum(np.searchsorted(held, new), len(held) - 1)
    return bool((held[at] == new).any())


def added(record: np.ndarray, new: np.ndarray, run: int) -> np.ndarray:
    """The record with run `run`'s images `new` (sorted hashes, none of them in it) inserted in order, then cut to
    the window: one pass over the record, no sort."""
    return _windowed(np.insert(record, np.searchsorted(record["hash"], new), _entries(new, run)))


def _entries(found: np.ndarray, run: int) -> np.ndarray:
    entries = np.empty(len(found), _DTYPE)
    entries["hash"], entries["run"] = found, run
    return entries


def _windowed(record: np.ndarray) -> np.ndarray:
    """The entries of the latest runs holding at most WINDOW images (the newest run whole, however large)."""
    if len(record) <= WINDOW:
        return record
    runs = record["run"].astype(np.int64)
    newest = runs.max()
    # Images per run, newest first; keep the runs whose running total stays within the window.
    per_run = np.bincount(newest - runs)
    kept = max(1, int(np.searchsorted(np.cumsum(per_run), WINDOW, side="right")))
    return record[runs > newest - kept]


def read(store: ObjectStore, partition: str) -> np.ndarray | None:
    """The hour's record, or None when none is stored (or the object is not a whole array)."""
    stored = store.get_optional(layout.rollup_index_key(partition))
    if stored is None or len(stored.data) % _DTYPE.itemsize:
        return None
    return np.frombuffer(stored.data, dtype=_DTYPE)


def write(store: ObjectStore, partition: str, record: np.ndarray) -> None:
    store.put_bytes(layout.rollup_index_key(partition), record.astype(_DTYPE).tobytes(), "application/octet-stream")
