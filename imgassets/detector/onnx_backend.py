"""YOLO through onnxruntime: the faster CPU backend, giving the same rows as the OpenCV one.

A Darknet model is converted from its .cfg + .weights on first use and cached (see `darknet_onnx`); an ONNX file
given as the weights is used as it is, and must output OpenCV's rows (docs/detector-versions.md, "Adding a model").
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Collection
from pathlib import Path

import numpy as np
import onnxruntime as ort

from imgassets.detector import BACKEND_NAMES
from imgassets.detector.base import RowsDetector
from imgassets.detector.darknet_onnx import cached_onnx_model, default_cache_dir
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
        super().__init__(files, input_size, confidence, nms, classes, lanes)
        self.model_path = files.weights if files.cfg is None else cached_onnx_model(files, input_size, cache_dir)
        self._cache_dir = cache_dir or default_cache_dir()

    def _network(self) -> ort.InferenceSession:
        return _session(self.optimized_model(), ort.GraphOptimizationLevel.ORT_ENABLE_ALL, self._threads)

    def optimized_model(self) -> Path:
        """The model with ONNX Runtime's portable graph optimizations applied, saved once per model and ONNX Runtime
        version (through a temporary file and a rename, so concurrent processes are safe): every run opens a
        session per lane, and one from the saved graph takes 0.025 s of CPU instead of 0.076 s, with the same
        outputs (test_onnx_backend). The machine-specific optimizations are applied when a session loads it. Where
        the cache cannot be written, the model as it is."""
        name = (
            self.model_path.stem
            if self.files.cfg is not None
            else f"{self.model_path.stem}-{self.files.weights_sha256[:16]}"
        )
        path = self._cache_dir / f"{name}-ort{ort.__version__}-extended.onnx"
        if not path.is_file():
            partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                _session(self.model_path, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, 1, save_to=partial)
                os.replace(partial, path)
            except (OSError, ort.capi.onnxruntime_pybind11_state.Fail):
                with contextlib.suppress(OSError):
                    partial.unlink(missing_ok=True)
                return self.model_path
        return path

    def _forward(self, network: ort.InferenceSession, blob: np.ndarray) -> np.ndarray:
        return network.run(None, {network.get_inputs()[0].name: blob})[0]


def _session(
    model: Path, level: ort.GraphOptimizationLevel, threads: int, save_to: Path | None = None
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = threads
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
