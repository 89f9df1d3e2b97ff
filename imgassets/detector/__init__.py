"""Object detection: YOLOv4-tiny model files, backends, and shared post-processing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from imgassets.detector.model_files import MODEL_NAME, ModelFiles, find_model_files
from imgassets.records import Detection

__all__ = ["MODEL_NAME", "Detector", "ModelFiles", "find_model_files", "lane_threads", "load_detector"]


class Detector(Protocol):
    backend: str
    files: ModelFiles
    input_size: int
    confidence: float
    nms: float
    #: How many threads should call `detect` at once to use the machine: each lane has its own network.
    lanes: int

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...


def lane_threads(lanes: int | None) -> tuple[int, int]:
    """(lanes, threads per lane) for this machine's cores.

    Independent single-threaded networks side by side beat one network split over all cores (measured:
    onnxruntime 67 vs 60 img/s on 2 cores) and keep a core busy while the other lane waits for I/O.
    """
    cores = len(os.sched_getaffinity(0))
    lanes = lanes or cores
    return lanes, max(1, cores // lanes)


def load_detector(
    backend: str = "opencv",
    input_size: int = 416,
    confidence: float = 0.5,
    nms: float = 0.4,
    model_dir: Path | None = None,
    lanes: int | None = None,
) -> Detector:
    files = find_model_files(model_dir)
    if backend == "opencv":
        from imgassets.detector.opencv_backend import OpenCVDetector

        return OpenCVDetector(files, input_size, confidence, nms, lanes)
    if backend == "onnx":
        from imgassets.detector.onnx_backend import OnnxDetector

        return OnnxDetector(files, input_size, confidence, nms, lanes=lanes)
    raise ValueError(f"unknown detector backend {backend!r} (IMGASSETS_DETECTOR_BACKEND)")
