"""What the tracker knows of each source (camera or site): its counting lines, its zones and the tracker's
settings, from `sources.toml` (IMGASSETS_SOURCES_FILE; by default the project's file when there is one).

Validated whole at load, like the detector versions: a wrong coordinate, a degenerate line or zone, an unknown
key or an invalid source name is an error naming the file and the field, before any run uses it. A source the
file does not name is still tracked, with the file's default `[tracker]` settings, no lines and no zones.

Coordinates are image-relative (0..1, x to the right, y down), so one definition fits every frame size of a
camera. A line is `from` → `to`, and `in_side` is any point on the side that counts as "in": an object whose
anchor moves to that side crosses "in", the other way "out".
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from imgassets.core.messages import SOURCE_NAME_PATTERN
from imgassets.core.settings import PROJECT_ROOT

DEFAULT_FILE = PROJECT_ROOT / "sources.toml"
#: Names of lines and zones: short, and safe as Parquet values, URL parts and SQL literals.
FEATURE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}", re.ASCII)

Coordinate = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Coordinate, Coordinate]


class SourcesError(ValueError):
    """sources.toml cannot be used; the message names the file and what is wrong."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def side(start: Point, end: Point, point: Point) -> float:
    """Which side of the line start → end `point` is on: the sign of the cross product (0: on the line)."""
    return (end[0] - start[0]) * (point[1] - start[1]) - (end[1] - start[1]) * (point[0] - start[0])


class Line(_Strict):
    """A counting line: crossing it towards `in_side` is "in", the other way "out"."""

    start: Point = Field(alias="from")
    end: Point = Field(alias="to")
    in_side: Point

    @model_validator(mode="after")
    def _usable(self) -> Line:
        if self.start == self.end:
            raise ValueError("from and to are the same point")
        if side(self.start, self.end, self.in_side) == 0:
            raise ValueError("in_side lies on the line: it must name one side of it")
        return self


class Zone(_Strict):
    """A polygon (three or more points, in order) in which visits and dwell time are counted."""

    points: list[Point] = Field(min_length=3, max_length=64)

    @model_validator(mode="after")
    def _has_area(self) -> Zone:
        area = sum(
            x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(self.points, self.points[1:] + self.points[:1], strict=True)
        )
        if abs(area) / 2 < 1e-6:
            raise ValueError("the zone's points enclose no area")
        return self


class TrackerSettings(_Strict):
    """The tracker's settings, in the units of this product (seconds, not frames: frames arrive at any rate)."""

    #: OC-SORT (default) or ByteTrack, both from the `trackers` library. On the synthetic clips of the tests,
    #: OC-SORT keeps a person through a partial occlusion that makes ByteTrack start a new track
    #: (docs/tracking.md has the figures).
    algorithm: Literal["ocsort", "bytetrack"] = "ocsort"
    #: A track not matched for longer than this ends; a later detection starts a new track.
    max_gap_s: float = Field(2.0, gt=0, le=600)
    #: Tracks with fewer frames than this are dropped (a one-frame false detection is never a track: the
    #: trackers confirm a track on its second sighting).
    min_frames: int = Field(2, ge=2, le=1000)
    #: Boxes match a track's predicted box from this IoU.
    match_iou: float = Field(0.1, gt=0, lt=1)
    #: Detections from this confidence start and continue tracks; ByteTrack also matches lower ones to
    #: existing tracks (records hold only detections above the detector version's own threshold).
    high_confidence: float = Field(0.5, gt=0, lt=1)
    #: Seconds of the previous hour's frames replayed first, so its tracks go on under the same ids.
    carry_s: float = Field(10.0, ge=0, le=600)
    #: The box's point that crosses lines and enters zones.
    anchor: Literal["bottom_center", "center"] = "bottom_center"
    #: Classes tracked (empty: all). Each class is tracked on its own.
    classes: tuple[str, ...] = ()


class SourceConfig(_Strict):
    lines: dict[str, Line] = {}
    zones: dict[str, Zone] = {}
    tracker: TrackerSettings = TrackerSettings()

    @model_validator(mode="after")
    def _names(self) -> SourceConfig:
        for name in [*self.lines, *self.zones]:
            if not FEATURE_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a line or zone name (a-z, 0-9, _ and -, at most 32)")
        return self


class SourcesFile(_Strict):
    tracker: TrackerSettings = TrackerSettings()
    sources: dict[str, dict[str, Any]] = {}


class Sources:
    """Every configured source, and the defaults for the others."""

    def __init__(self, default: TrackerSettings, configured: dict[str, SourceConfig]) -> None:
        self.default = default
        self.configured = configured

    def get(self, source: str) -> SourceConfig:
        return self.configured.get(source) or SourceConfig(tracker=self.default)


def load_sources(path: Path | None) -> Sources:
    """The sources of the file at `path` (unset: the project's sources.toml when there is one, else none)."""
    if path is None:
        path = DEFAULT_FILE if DEFAULT_FILE.is_file() else None
    elif not path.is_file():
        raise SourcesError(f"IMGASSETS_SOURCES_FILE: {path} is not a file")
    if path is None:
        return Sources(TrackerSettings(), {})
    try:
        document = SourcesFile.model_validate(tomllib.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SourcesError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise SourcesError(f"{path}: {_first_error(exc)}") from None
    configured: dict[str, SourceConfig] = {}
    for name, table in document.sources.items():
        if not re.fullmatch(SOURCE_NAME_PATTERN, name):
            raise SourcesError(f"{path}: [sources.{name}]: not a source name (what `ingest --source` accepts)")
        # A source's [tracker] table overrides the file's defaults field by field.
        table = dict(table)
        table["tracker"] = document.tracker.model_dump() | dict(table.get("tracker") or {})
        try:
            configured[name] = SourceConfig.model_validate(table)
        except ValidationError as exc:
            raise SourcesError(f"{path}: [sources.{name}] {_first_error(exc)}") from None
    return Sources(document.tracker, configured)


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
