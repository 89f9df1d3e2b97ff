"""Detectors through ONNX Runtime: the faster CPU backend, and the one for models users bring.

A Darknet model is converted from its .cfg + .weights on first use and cached (see `darknet_onnx`) and gives the
same rows as the OpenCV backend; an ONNX file given as the weights is used as it is, read by its layout (stated by
the version, or told from its outputs and metadata: layouts.py). Sessions run on the version's execution
providers, the first one available here, with one log line when it is not the first one asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from imgassets.detector import BACKEND_NAMES, DEFAULT_PROVIDERS, ModelOptions
from imgassets.detector.base import RowsDetector
from imgassets.detector.darknet_onnx import cached_onnx_model, default_cache_dir
from imgassets.detector.layouts import FAMILIES, LayoutError, Preprocess, class_count, detect_layout
from imgassets.detector.model_files import ModelFiles

log = logging.getLogger(__name__)

CPU = DEFAULT_PROVIDERS[0]


class ProvidersError(ValueError):
    """None of a version's execution providers can run here."""


def choose_providers(wanted: Sequence[str], available: Sequence[str]) -> list[str]:
    """The providers a session gets: from the first of `wanted` this ONNX Runtime has, the rest of `wanted`
    that it has (ONNX Runtime gives a node the first provider that can run it). Logs one line when the first
    wanted one is not here."""
    usable = [provider for provider in wanted if provider in available]
    if not usable:
        raise ProvidersError(
            f"none of the execution providers {', '.join(wanted)} is in this ONNX Runtime "
            f"(it has {', '.join(available)}); add {CPU} to fall back to the CPU"
        )
    if usable[0] != wanted[0]:
        missing = ", ".join(provider for provider in wanted[: wanted.index(usable[0])])
        log.warning("%s not available here (available: %s); running on %s", missing, ", ".join(available), usable[0])
    return usable


@dataclass(frozen=True)
class ModelInfo:
    """What an ONNX model says of itself: its layout, input size, class count and metadata."""

    layout: str
    input_size: int | None
    classes: int
    metadata: dict[str, str]
    output_shapes: list[tuple[int, ...]]


def inspect_model(path: Path, input_size: int, layout: str | None = None, names: int | None = None) -> ModelInfo:
    """Runs the model once on a blank input (at its own size when fixed, else `input_size`) and reads its
    layout (unless given), class count and metadata. Raises LayoutError when its outputs fit no layout."""
    session = ort.InferenceSession(str(path), providers=[CPU])
    shape = session.get_inputs()[0].shape
    fixed = shape[2] if len(shape) == 4 and isinstance(shape[2], int) and shape[2] == shape[3] else None
    size = fixed or input_size
    outputs = session.run(None, {session.get_inputs()[0].name: np.zeros((1, 3, size, size), np.float32)})
    metadata = dict(session.get_modelmeta().custom_metadata_map)
    found = layout or detect_layout(outputs, metadata, names)
    return ModelInfo(found, fixed, class_count(found, outputs), metadata, [tuple(o.shape) for o in outputs])


class OnnxDetector(RowsDetector):
    backend = BACKEND_NAMES["onnx"]

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        lanes: int | None = None,
        model: ModelOptions | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        model = model or ModelOptions()
        layout = model.layout
        if files.cfg is not None:
            self.model_path = cached_onnx_model(files, input_size, cache_dir)
            layout = "darknet"
        else:
            self.model_path = files.weights
            info = inspect_model(files.weights, input_size, layout, len(files.labels))
            if info.input_size is not None and info.input_size != input_size:
                raise LayoutError(
                    f"{files.weights.name} takes {info.input_size}x{info.input_size} images; "
                    f"set input_size = {info.input_size}"
                )
            if info.classes and info.classes != len(files.labels):
                raise LayoutError(
                    f"{files.weights.name} scores {info.classes} classes ({info.layout} layout) "
                    f"but has {len(files.labels)} names"
                )
            layout = info.layout
        family = FAMILIES[layout]
        preprocess = Preprocess(
            input_size, model.resize or family.resize, model.mean or family.mean, model.std or family.std
        )
        super().__init__(files, input_size, lanes, layout, preprocess)
        self.providers = choose_providers(model.providers, ort.get_available_providers())
        self._cache_dir = cache_dir or default_cache_dir()

    def _network(self) -> ort.InferenceSession:
        if self.providers[0] != CPU:  # saved optimizations are the CPU provider's: others optimize their own
            return _session(self.model_path, ort.GraphOptimizationLevel.ORT_ENABLE_ALL, self._threads, self.providers)
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

    def _forward(self, network: ort.InferenceSession, blob: np.ndarray) -> list[np.ndarray]:
        return network.run(None, {network.get_inputs()[0].name: blob})


def _session(
    model: Path,
    level: ort.GraphOptimizationLevel,
    threads: int,
    providers: Sequence[str] = (CPU,),
    save_to: Path | None = None,
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = threads
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    return ort.InferenceSession(str(model), options, providers=list(providers))
