"""The bench photos: distinct variants of the demo photos, so that every image the bench ingests is new (ingest
dedupes identical content) while its content stays real (the detector finds what it finds in real photos)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from imgassets.core.settings import PROJECT_ROOT

PHOTOS = PROJECT_ROOT / "data" / "photos"


def _read_photo(path: Path) -> np.ndarray:
    pixels = cv2.imread(str(path))
    if pixels is None:
        raise FileNotFoundError(f"cannot read demo photo {path}")
    return pixels


def synthetic_photos(count: int, first: int = 0) -> list[bytes]:
    """Distinct JPEGs: random crops/flips of the real demo photos (real content, unique bytes per index)."""
    rng = np.random.default_rng(first)
    bases = [_read_photo(p) for p in sorted(PHOTOS.glob("*.jpg"))]
    out = []
    for index in range(first, first + count):
        base = bases[index % len(bases)]
        h, w = base.shape[:2]
        ch, cw = int(h * rng.uniform(0.85, 1.0)), int(w * rng.uniform(0.85, 1.0))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        variant = np.ascontiguousarray(base[y : y + ch, x : x + cw])
        if index % 2:
            variant = cv2.flip(variant, 1)
        variant[0, 0] = (index % 256, (index // 256) % 256, 7)  # unique bytes even for equal crops
        out.append(cv2.imencode(".jpg", variant, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out
