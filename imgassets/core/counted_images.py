"""Which images an hour's roll-up has counted: one 8-byte hash per image, sorted, stored beside the roll-up
(`layout.rollup_index_key`) as raw little-endian uint64s. A run checks its own images against it and adds them, so
an image that reaches the roll-up twice (a message produced twice, offsets replayed) is seen, whichever runs bring
it: 8 bytes per image of the hour to read and write (1.6 MB at 200,000 images) and a sorted lookup per image of
the run. A collision among 200,000 images has a chance of about 1 in 10^9."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

from imgassets.core import layout
from imgassets.core.storage import ObjectStore

_DTYPE = np.dtype("<u8")


def hashes(keys: Iterable[str]) -> np.ndarray:
    """The sorted, unique hashes of image keys."""
    digests = b"".join(hashlib.blake2b(key.encode(), digest_size=8).digest() for key in keys)
    return np.unique(np.frombuffer(digests, dtype=_DTYPE))


def any_counted(counted: np.ndarray, new: np.ndarray) -> bool:
    """Whether any of `new` is in `counted` (both sorted)."""
    if not len(counted) or not len(new):
        return False
    at = np.minimum(np.searchsorted(counted, new), len(counted) - 1)
    return bool((counted[at] == new).any())


def added(counted: np.ndarray, new: np.ndarray) -> np.ndarray:
    """`counted` with `new` (none of them in it) inserted in order: one pass over the array, no sort."""
    return np.insert(counted, np.searchsorted(counted, new), new)


def read(store: ObjectStore, partition: str) -> np.ndarray | None:
    """The hour's counted images, or None when none are stored (or the object is not a whole array)."""
    stored = store.get_optional(layout.rollup_index_key(partition))
    if stored is None or len(stored.data) % _DTYPE.itemsize:
        return None
    return np.frombuffer(stored.data, dtype=_DTYPE)


def write(store: ObjectStore, partition: str, counted: np.ndarray) -> None:
    store.put_bytes(layout.rollup_index_key(partition), counted.astype(_DTYPE).tobytes(), "application/octet-stream")
