"""`imgassets versions add`: a model the user brings becomes a detector version in one command.

The model is checked the way a run will use it (it loads, its layout is told or stated, its class names and input
size are found, it detects on the demo photos) before a line is written; the version is appended to the versions
file with the weights' sha256, so it cannot change silently afterwards, and the file is read back whole.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import onnxruntime as ort

from imgassets.core import images
from imgassets.detector.layouts import LAYOUTS, metadata_size
from imgassets.detector.model_files import ModelFiles, ModelFilesError
from imgassets.detector.onnx_backend import inspect_model
from imgassets.detector.versions import DEFAULT, NAME_PATTERN, DetectorVersion, Versions, VersionsError, load_versions


@dataclass
class Added:
    """What `add` found and wrote."""

    version: DetectorVersion
    file: Path
    names_from: str
    classes: int
    #: Labels found per demo photo, and the detector's time per photo (ms, after a warm-up).
    found: dict[str, Counter[str]] = field(default_factory=dict)
    ms_per_image: float = 0.0
    providers: list[str] = field(default_factory=list)


def add_version(
    file: Path,
    versions: Versions,
    name: str,
    onnx: Path,
    names: Path | None,
    photos: list[Path],
    layout: str | None = None,
) -> Added:
    """Checks `onnx` and appends it to `file` (created if missing) as version `name`; raises VersionsError with
    what is wrong, leaving the file as it was."""
    if not re.fullmatch(NAME_PATTERN, name, re.ASCII):
        raise VersionsError(f"version name {name!r} must match {NAME_PATTERN}")
    if layout is not None and layout not in LAYOUTS:
        raise VersionsError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    if name in versions.versions:
        raise VersionsError(f"{file}: there is already a version {name!r}")
    onnx = onnx.resolve()
    if not onnx.is_file():
        raise VersionsError(f"{onnx}: no such file")
    files = ModelFiles(cfg=None, weights=onnx, names=names.resolve() if names else None)
    try:
        labels = files.labels
        info = inspect_model(onnx, versions.active.input_size, layout, len(labels))
    except (ModelFilesError, ValueError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
        raise VersionsError(f"{onnx.name}: {exc}") from None
    default = versions.versions[DEFAULT]
    size = info.input_size or metadata_size(info.metadata) or default.input_size
    version = default.model_copy(
        update={
            "name": name,
            "backend": "onnx",
            "input_size": size,
            "weights": onnx,
            "names": files.names,
            "layout": info.layout,
            "sha256": files.weights_sha256,
            "model_dir": None,
        }
    )
    added = Added(version, file, str(names) if names else f"{onnx.name}'s metadata", len(labels))
    _try_on(added, photos)
    _append(file, version, added, default)
    return added


def _try_on(added: Added, photos: list[Path]) -> None:
    """Runs the version on the photos as a run would (decoded the pipeline's way, its thresholds)."""
    version = added.version
    try:
        detector = version.detector()
        pixels = [images.decode_bgr(photo.read_bytes()) for photo in photos]
        detector.detect(pixels[:1], version.thresholds)  # warm-up: the session is made on first use
        started = time.perf_counter()
        for photo, image in zip(photos, pixels, strict=True):
            found = detector.detect([image], version.thresholds)[0]
            added.found[photo.name] = Counter(d.label for d in found)
    except (ModelFilesError, ValueError, ort.capi.onnxruntime_pybind11_state.Fail) as exc:
        raise VersionsError(f"{version.weights}: does not run: {exc}") from None
    added.ms_per_image = round((time.perf_counter() - started) * 1000 / max(1, len(photos)), 1)
    added.providers = list(getattr(detector, "providers", []))


def _toml_path(path: Path, base: Path) -> str:
    """A path as the versions file states it: relative to the file's folder when inside it."""
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def _append(file: Path, version: DetectorVersion, added: Added, default: DetectorVersion) -> None:
    """Appends the version's table, then reads the whole file back; on any error the file is restored."""
    base = file.parent.resolve()
    lines = [
        f"# Added by `imgassets versions add` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {version.layout} layout, "
        f"{added.classes} classes, input {version.input_size}.",
        f"[versions.{version.name}]",
        'backend = "onnx"',
        f"weights = {json.dumps(_toml_path(version.weights, base))}" if version.weights else "",
        f"names = {json.dumps(_toml_path(version.names, base))}" if version.names else "",
        f'layout = "{version.layout}"',
        f"input_size = {version.input_size}",
        f'sha256 = "{version.sha256}"',
    ]
    before = file.read_text() if file.is_file() else None
    start = before.rstrip("\n") + "\n\n" if before is not None else f'active = "{DEFAULT}"\n\n'
    file.write_text(start + "\n".join(line for line in lines if line) + "\n")
    try:
        load_versions(file, default).get(version.name).files()
    except VersionsError:
        if before is None:
            file.unlink()
        else:
            file.write_text(before)
        raise
