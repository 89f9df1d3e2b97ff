"""YOLOv4-tiny through onnxruntime: the faster CPU backend, giving the same rows as the OpenCV one.

The ONNX model is converted from the same Darknet files on first use and cached (see `darknet_onnx`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from imgassets.detector import lane_threads
from imgassets.detector.darknet_onnx import INPUT_NAME, cached_onnx_model
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import decode
from imgassets.records import Detection


class OnnxDetector:
    backend = "onnxruntime"

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        confidence: float,
        nms: float,
        cache_dir: Path | None = None,
        lanes: int | None = None,
    ) -> None:
        self.files = files
        self.input_size = input_size
        self.confidence = confidence
        self.nms = nms
        self.model_path = cached_onnx_model(files, input_size, cache_dir)
        self.lanes, self._threads = lane_threads(lanes)
        self._local = threading.local()

    def _session(self) -> ort.InferenceSession:
        """This thread's session (sessions are created on first use, one per calling thread)."""
        session = getattr(self._local, "session", None)
        if session is None:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = self._threads
            session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
            self._local.session = session
        return session

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detects objects in BGR uint8 images; one forward pass for the whole list. Thread-safe."""
        if not images:
            return []
        return [
            decode(rows, image.shape[1], image.shape[0], self.files.labels, self.confidence, self.nms)
            for rows, image in zip(self.raw_rows(images), images, strict=False)
        ]

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(images, rows, 85) network outputs, as OpenCV's yolo layers give them, before `decode`."""
        # OpenCV's own preprocessing (resize INTER_LINEAR, BGR->RGB, /255), so inputs match the reference.
        size = (self.input_size, self.input_size)
        blob = cv2.dnn.blobFromImages(list(images), 1 / 255.0, size, swapRB=True, crop=False)
        return self._session().run(None, {INPUT_NAME: blob})[0]
