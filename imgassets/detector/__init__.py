"""Object detection: YOLO model files, backends, shared post-processing, and named detector versions."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from imgassets.core.records import Detection
from imgassets.detector.layouts import RGB, Resize
from imgassets.detector.model_files import MODEL_NAME, ModelFiles, find_model_files
from imgassets.detector.postprocess import Candidates, Thresholds

#: The name each backend setting (`opencv`, `onnx`) has in records (`DetectionRecord.backend`).
BACKEND_NAMES = {"opencv": "opencv-dnn", "onnx": "onnxruntime", "none": "none"}

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
    """How a model is read and run (its thresholds are the version's, postprocess.Thresholds): its layout (None:
    told from the ONNX graph), the layout's preprocessing unless overridden, and the ONNX Runtime execution
    providers in order of preference."""

    layout: str | None = None
    resize: Resize | None = None
    mean: RGB | None = None
    std: RGB | None = None
    providers: tuple[str, ...] = DEFAULT_PROVIDERS


class Detector(Protocol):
    """A network of a backend: images in, candidates out. A version's thresholds (postprocess.Thresholds) turn
    candidates into detections; the network holds none."""

    backend: str
    files: ModelFiles
    input_size: int
    #: How the network's outputs are read (layouts.py).
    layout: str
    #: How many threads should call `detect` at once to use the machine: each lane has its own network.
    lanes: int

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray: ...

    def candidates(self, images: Sequence[np.ndarray], floor: float = ...) -> list[Candidates]: ...

    def detect(self, images: Sequence[np.ndarray], thresholds: Thresholds) -> list[list[Detection]]: ...

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
    backend: str,
    input_size: int,
    files: ModelFiles | None = None,
    lanes: int | None = None,
    model: ModelOptions | None = None,
) -> Detector:
    """The one builder of a network: `backend` ("opencv" or "onnx") over `files` (default: the YOLOv4-tiny files
    of the model wheel). The pipeline builds it from a detector version (`DetectorVersion.detector`)."""
    files = files or find_model_files()
    model = model or ModelOptions()
    if backend == "opencv":
        from imgassets.detector.opencv_backend import OpenCVDetector

        if model.layout not in (None, "darknet") or model.resize not in (None, "stretch"):
            raise ValueError("the OpenCV backend runs Darknet models only (layout darknet, resize stretch)")
        return OpenCVDetector(files, input_size, lanes)
    if backend == "onnx":
        from imgassets.detector.onnx_backend import OnnxDetector

        return OnnxDetector(files, input_size, lanes, model)
    if backend == "none":  # the orchestration bench's zero-cost detector (null_backend.py)
        from imgassets.detector.null_backend import NullDetector

        return NullDetector(files, input_size, lanes)
    raise ValueError(f"unknown detector backend {backend!r} (IMGASSETS_DETECTOR_BACKEND)")
