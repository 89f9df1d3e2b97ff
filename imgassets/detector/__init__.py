"""Object detection: YOLO model files, backends, shared post-processing, and named detector versions."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from imgassets.core.records import Detection
from imgassets.detector.layouts import RGB, Resize
from imgassets.detector.model_files import MODEL_NAME, ModelFiles, find_model_files
from imgassets.detector.postprocess import Candidates, NmsMode

#: The name each backend setting (`opencv`, `onnx`) has in records (`DetectionRecord.backend`).
BACKEND_NAMES = {"opencv": "opencv-dnn", "onnx": "onnxruntime"}

__all__ = [
    "BACKEND_NAMES",
    "DEFAULT_PROVIDERS",
    "MODEL_NAME",
    "Detector",
    "ModelFiles",
    "ModelOptions",
    "find_model_files",
    "lane_threads",
    "load_detector",
]


#: ONNX Runtime's CPU provider: what every version runs on unless it names others.
DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


@dataclass(frozen=True)
class ModelOptions:
    """How a model is read and run, beyond its thresholds: its layout (None: told from the ONNX graph), the
    layout's preprocessing unless overridden, the NMS mode and the ONNX Runtime execution providers in order
    of preference."""

    layout: str | None = None
    resize: Resize | None = None
    mean: RGB | None = None
    std: RGB | None = None
    nms_mode: NmsMode = "per_class"
    providers: tuple[str, ...] = DEFAULT_PROVIDERS


class Detector(Protocol):
    backend: str
    files: ModelFiles
    input_size: int
    confidence: float
    nms: float
    classes: frozenset[str] | None
    #: How the network's outputs are read (layouts.py).
    layout: str
    #: How many threads should call `detect` at once to use the machine: each lane has its own network.
    lanes: int

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray: ...

    def candidates(self, images: Sequence[np.ndarray]) -> list[Candidates]: ...

    def select(self, found: Candidates) -> list[Detection]: ...

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]: ...

    def warm(self) -> None: ...


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
    files: ModelFiles | None = None,
    classes: Collection[str] | None = None,
    model: ModelOptions | None = None,
) -> Detector:
    """A detector on `files` (default: the YOLOv4-tiny files in `model_dir` or the model wheel)."""
    files = files or find_model_files(model_dir)
    model = model or ModelOptions()
    if backend == "opencv":
        from imgassets.detector.opencv_backend import OpenCVDetector

        if model.layout not in (None, "darknet") or model.resize not in (None, "stretch"):
            raise ValueError("the OpenCV backend runs Darknet models only (layout darknet, resize stretch)")
        return OpenCVDetector(files, input_size, confidence, nms, lanes, classes, model.nms_mode)
    if backend == "onnx":
        from imgassets.detector.onnx_backend import OnnxDetector

        return OnnxDetector(files, input_size, confidence, nms, lanes=lanes, classes=classes, model=model)
    raise ValueError(f"unknown detector backend {backend!r} (IMGASSETS_DETECTOR_BACKEND)")
