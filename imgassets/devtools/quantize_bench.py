"""The int8 model against the fp32 one, in one run: quantisation time and reproducibility, model sizes, raw detector
rates (images/s with every lane busy, as `imgassets bench` measures the detector) and detection agreement.

    python -m imgassets.devtools.quantize_bench [--photos 200] [--rounds 3] [--lanes N]

The bench photos are `bench_photos.synthetic_photos` (crops and mirror images of data/photos); the calibration
photos are calibration/. Rates alternate between the two models, round by round, and the best round of each is
kept, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from imgassets.core import images
from imgassets.core.settings import get_settings
from imgassets.detector import find_model_files
from imgassets.detector.agreement import agreement
from imgassets.detector.darknet_onnx import cached_onnx_model
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.onnx_backend import OnnxDetector
from imgassets.detector.postprocess import Thresholds
from imgassets.detector.quantize import calibration_photos, quantize_int8
from imgassets.detector.versions import DEFAULT, DetectorConfig
from imgassets.devtools.bench_photos import synthetic_photos


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _round(detector: OnnxDetector, thresholds: Thresholds, decoded: list[np.ndarray]) -> tuple[float, float]:
    """(images/s, CPU ms per image) of one pass over the photos, every lane busy."""
    with ThreadPoolExecutor(detector.lanes) as lanes:
        cpu, started = time.process_time(), time.perf_counter()
        list(lanes.map(lambda pixels: detector.detect([pixels], thresholds), decoded))
        return len(decoded) / (time.perf_counter() - started), 1000 * (time.process_time() - cpu) / len(decoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200, help="bench photos (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per model (default 3)")
    parser.add_argument("--lanes", type=int, default=None, help="inference lanes (default: one per core)")
    parser.add_argument("--input-size", type=int, default=416)
    args = parser.parse_args()

    files = find_model_files()
    fp32 = cached_onnx_model(files, args.input_size)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        photos = calibration_photos()
        started = time.perf_counter()
        int8 = quantize_int8(fp32, directory / "int8.onnx", photos, args.input_size)
        seconds = time.perf_counter() - started
        again = quantize_int8(fp32, directory / "int8-again.onnx", photos, args.input_size)
        print(f"quantised in {seconds:.1f} s on {len(photos)} calibration photos ({', '.join(p.name for p in photos)})")
        print(f"sha256 {_sha256(int8)}, second run {'identical' if _sha256(again) == _sha256(int8) else 'DIFFERENT'}")
        print(f"size: fp32 {fp32.stat().st_size / 2**20:.1f} MiB, int8 {int8.stat().st_size / 2**20:.1f} MiB")

        def detector(model: Path) -> OnnxDetector:
            model_files = ModelFiles(cfg=None, weights=model, names=files.names)
            return OnnxDetector(model_files, args.input_size, args.lanes, cache_dir=directory)

        detectors = {"fp32": detector(fp32), "int8": detector(int8)}
        decoded = [images.decode_bgr(photo) for photo in synthetic_photos(args.photos)]
        # The default version's thresholds (IMGASSETS_DETECTOR_CONFIDENCE, _NMS).
        thresholds = DetectorConfig.from_settings(get_settings()).versions().get(DEFAULT).thresholds
        found = agreement(detectors["fp32"], detectors["int8"], decoded, thresholds)
        print(
            f"int8 vs fp32 on {found.images} bench photos (confidence {thresholds.confidence:g}, NMS "
            f"{thresholds.nms:g}, IoU >= 0.5, same class): "
            f"precision {found.precision:.4f}, recall {found.recall:.4f} "
            f"({found.matched} matched of {found.reference} fp32 and {found.other} int8 detections)"
        )
        rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in detectors}
        for each in detectors.values():
            each.warm()
            _round(each, thresholds, decoded[: 3 * each.lanes])
        for _ in range(args.rounds):
            for name, each in detectors.items():
                rounds[name].append(_round(each, thresholds, decoded))
        best = {name: (max(r for r, _ in runs), min(c for _, c in runs)) for name, runs in rounds.items()}
        lanes = detectors["fp32"].lanes
        for name, (rate, cpu) in best.items():
            print(f"{name}: {rate:6.1f} images/s, {cpu:5.1f} ms CPU per image ({lanes} lanes, best of {args.rounds})")
        print(
            f"int8 / fp32: {best['int8'][0] / best['fp32'][0]:.2f}x images/s, "
            f"{best['fp32'][1] / best['int8'][1]:.2f}x less CPU per image"
        )


if __name__ == "__main__":
    main()
