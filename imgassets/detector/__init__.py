"""Object detection: YOLOv4-tiny model files, backends, and shared post-processing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from imgassets.detector.model_files import MODEL_NAME, ModelFiles, find_model_files
from imgassets.records import Detection

__all__ = ["MODEL_NAME", "Detector", "ModelFiles", "find_model_files", "load_detector"]


class Detector(Protocol):
    backend: str
    files: ModelFiles
    input_size: int
    confidence: float
    nms: float

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


def load_detector(
    backend: str = "opencv",
    input_size: int = 416,
    confidence: float = 0.5,
    nms: float = 0.4,
    model_dir: Path | None = None,
) -> Detector:
    files = find_model_files(model_dir)
    if backend == "opencv":
        from imgassets.detector.opencv_backend import OpenCVDetector

        return OpenCVDetector(files, input_size, confidence, nms)
    if backend == "onnx":
        from imgassets.detector.onnx_backend import OnnxDetector

        return OnnxDetector(files, input_size, confidence, nms)
    raise ValueError(f"unknown detector backend {backend!r} (IMGASSETS_DETECTOR_BACKEND)")
