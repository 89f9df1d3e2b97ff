"""YOLO through onnxruntime: the faster CPU backend, giving the same rows as the OpenCV one.

A Darknet model is converted from its .cfg + .weights on first use and cached (see `darknet_onnx`); an ONNX file
given as the weights is used as it is, and must output OpenCV's rows (README, "Adding a model").
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from imgassets.detector import BACKEND_NAMES, lane_threads
from imgassets.detector.base import RowsDetector
from imgassets.detector.darknet_onnx import cached_onnx_model
from imgassets.detector.model_files import ModelFiles


class OnnxDetector(RowsDetector):
    backend = BACKEND_NAMES["onnx"]

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        confidence: float,
        nms: float,
        cache_dir: Path | None = None,
        lanes: int | None = None,
        classes: Collection[str] | None = None,
    ) -> None:
        super().__init__(files, input_size, confidence, nms, classes)
        self.model_path = files.weights if files.cfg is None else cached_onnx_model(files, input_size, cache_dir)
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

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray:
        session = self._session()
        return session.run(None, {session.get_inputs()[0].name: self.blob(images)})[0]
