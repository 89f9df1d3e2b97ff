"""The raw detector rate: what the active detector version does on photos in memory, no pipeline around it. The
benches measure the pipeline against it (end to end as a share of raw, CPU beyond the forward pass)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TypedDict

from imgassets.core import images
from imgassets.core.settings import Settings


class RawRate(TypedDict):
    version: str
    backend: str
    lanes: int
    images_per_s: float
    images_per_s_with_decode: float
    forward_cpu_ms_per_image: float
    images: int


def raw_detector(settings: Settings, photos: list[bytes]) -> RawRate:
    """Images/s of the active detector version on photos in memory, run the way the pipeline runs it (all of its
    inference lanes busy): forward only, and decode + forward."""
    from imgassets.defs.resource_types import DetectorResource

    resource = DetectorResource.from_settings(settings)
    version = resource.versions().active
    detector = resource.load(version)
    thresholds = version.thresholds
    decoded = [images.decode_bgr(p) for p in photos]

    def rate(pool: ThreadPoolExecutor, fn, items: list) -> float:
        started = time.perf_counter()
        list(pool.map(fn, items))
        return len(items) / (time.perf_counter() - started)

    with ThreadPoolExecutor(detector.lanes) as lanes:
        rate(
            lanes, lambda pixels: detector.detect([pixels], thresholds), decoded[: 3 * detector.lanes]
        )  # warm-up, every lane
        cpu = time.process_time()
        forward = rate(lanes, lambda pixels: detector.detect([pixels], thresholds), decoded)
        forward_cpu = time.process_time() - cpu
        with_decode = rate(lanes, lambda data: detector.detect([images.decode_bgr(data)], thresholds), photos)
    return {
        "version": version.name,
        "backend": detector.backend,
        "lanes": detector.lanes,
        "images_per_s": round(forward, 2),
        "images_per_s_with_decode": round(with_decode, 2),
        "forward_cpu_ms_per_image": round(1000 * forward_cpu / len(decoded), 1),
        "images": len(photos),
    }
