"""Speed and agreement of the detector backends on the demo photos.

    python -m imgassets.devtools.backend_bench [--iterations 50] [--warmup 3]

Times `detect` end to end (preprocessing, network, decode + NMS) one image per call, as the pipeline
calls it, and once with all photos in one batch; warm-up calls are not timed. Then prints how far the
onnxruntime detections and raw rows are from OpenCV's.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from imgassets.core.records import Detection
from imgassets.core.settings import get_settings
from imgassets.detector import Detector, load_detector
from imgassets.detector.postprocess import Thresholds
from imgassets.detector.versions import DEFAULT, DetectorConfig
from imgassets.devtools.bench_photos import PHOTOS


def _time(
    detector: Detector, thresholds: Thresholds, images: list[np.ndarray], iterations: int, warmup: int, batched: bool
) -> float:
    """Seconds per image, averaged over `iterations` passes over all images."""
    calls = [images] if batched else [[image] for image in images]
    for _ in range(warmup):
        for call in calls:
            detector.detect(call, thresholds)
    start = time.perf_counter()
    for _ in range(iterations):
        for call in calls:
            detector.detect(call, thresholds)
    return (time.perf_counter() - start) / (iterations * len(images))


def _box(detection: Detection) -> tuple[int, int, int, int]:
    return detection.box.x, detection.box.y, detection.box.w, detection.box.h


def _differences(reference: Detector, other: Detector, thresholds: Thresholds, images: list[np.ndarray]) -> None:
    box_px = score = 0.0
    for image in images:
        expected = sorted(reference.detect([image], thresholds)[0], key=lambda d: (d.label, d.box.x, d.box.y))
        found = sorted(other.detect([image], thresholds)[0], key=lambda d: (d.label, d.box.x, d.box.y))
        if [d.label for d in expected] != [d.label for d in found]:
            print(f"  labels differ: {[d.label for d in expected]} vs {[d.label for d in found]}")
            continue
        for a, b in zip(expected, found, strict=False):
            box_px = max(box_px, *(abs(u - v) for u, v in zip(_box(a), _box(b), strict=False)))
            score = max(score, abs(a.confidence - b.confidence))
    print(f"  detections: max box difference {box_px:g} px, max confidence difference {score:g}")
    diff = np.abs(reference.raw_rows(images) - other.raw_rows(images))
    print(
        f"  raw rows: max |diff| box (relative) {diff[..., :4].max():.2e}, objectness {diff[..., 4].max():.2e}, "
        f"class scores {diff[..., 5:].max():.2e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    images = [image for path in sorted(PHOTOS.glob("*.jpg")) if (image := cv2.imread(str(path))) is not None]
    # The default version (IMGASSETS_DETECTOR_*: YOLOv4-tiny), its network on each backend, its thresholds.
    version = DetectorConfig.from_settings(get_settings()).versions().get(DEFAULT)
    files, size, thresholds = version.files(), version.input_size, version.thresholds
    opencv, onnx = load_detector("opencv", size, files), load_detector("onnx", size, files)
    print(f"{len(images)} photos, {args.iterations} iterations ({args.warmup} warm-up), {version.describe()}")
    for detector in (opencv, onnx):
        for batched in (False, True):
            seconds = _time(detector, thresholds, images, args.iterations, args.warmup, batched)
            mode = f"batch of {len(images)}" if batched else "one per call"
            print(f"{detector.backend:>12} {mode:>13}: {seconds * 1000:7.2f} ms/image  {1 / seconds:6.1f} images/s")
    print("onnxruntime vs opencv-dnn:")
    _differences(opencv, onnx, thresholds, images)


if __name__ == "__main__":
    main()
