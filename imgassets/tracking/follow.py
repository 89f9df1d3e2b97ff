"""From detections to objects: one source's frames of an hour, in capture order, through OC-SORT or ByteTrack
(the `trackers` library), into tracks with their line crossings and zone visits.

An hour is tracked on its own, so any hour can be replayed or backfilled, yet a track that crosses the hour
boundary stays one track: the previous hour's last seconds (`carry_s`) are replayed first, and a track that
goes on from them takes the id the previous hour's document gave it (matched by the same box in the same frame).
The result depends only on the frames and the previous hour's document, never on the order frames arrived in:
the same inputs give the same tracks, ids included.

Each class is tracked on its own (a person is never continued as a car). Events belong to the hour of the frame
they happen in: a crossing between the previous hour's last frame and this hour's first counts in this hour, a
zone visit in the hour it began.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from imgassets.core.records import (
    Box,
    Crossing,
    DetectionRecord,
    Observation,
    RelativeLine,
    SourceTracks,
    Track,
    TrackCounts,
    ZoneVisit,
)
from imgassets.core.sources import Line, SourceConfig, TrackerSettings, Zone, side
from imgassets.detector.comparison import iou

#: The trackers count their lost-track buffer in frames of a 30 fps video; with timestamps it is seconds × 30.
_TRACKER_FPS = 30.0
_PATH_POINTS = 32
#: A carried track continues the previous hour's track that holds the same box in the same frame.
_SAME_BOX_IOU = 0.5


@dataclass(frozen=True)
class Sighting:
    """One detection in a frame."""

    label: str
    confidence: float
    box: Box


@dataclass(frozen=True)
class Frame:
    """One image of a source, with what the detector found in it."""

    image_key: str
    captured_at: datetime
    width: int
    height: int
    sightings: tuple[Sighting, ...]


@dataclass(frozen=True)
class _Seen:
    frame: Frame
    sighting: Sighting

    def anchor(self, anchor: str) -> tuple[float, float]:
        box = self.sighting.box
        y = box.y + box.h if anchor == "bottom_center" else box.y + box.h / 2
        return (box.x + box.w / 2) / self.frame.width, y / self.frame.height


def frames_from_tables(images: pa.Table, detections: pa.Table) -> dict[str, list[Frame]]:
    """The frames of an hour's detection tables (imgassets/core/table.py), by source."""
    found: defaultdict[str, list[Sighting]] = defaultdict(list)
    for row in detections.select(["image_key", "label", "confidence", "box_x", "box_y", "box_w", "box_h"]).to_pylist():
        box = Box(x=row["box_x"], y=row["box_y"], w=row["box_w"], h=row["box_h"])
        found[row["image_key"]].append(Sighting(row["label"], float(row["confidence"]), box))
    frames: defaultdict[str, list[Frame]] = defaultdict(list)
    columns = ["image_key", "source", "captured_at", "uploaded_at", "processed_at", "width", "height"]
    for row in images.select(columns).to_pylist():
        taken = row["captured_at"] or row["uploaded_at"] or row["processed_at"]
        key = row["image_key"]
        frames[row["source"]].append(Frame(key, taken, row["width"], row["height"], tuple(found.get(key, ()))))
    return dict(frames)


def frames_from_records(records: Iterable[DetectionRecord]) -> dict[str, list[Frame]]:
    """The frames of an hour's detection records, by source."""
    frames: defaultdict[str, list[Frame]] = defaultdict(list)
    for record in records:
        sightings = tuple(Sighting(d.label, d.confidence, d.box) for d in record.detections)
        taken = record.captured_at or record.provenance.processed_at
        frame = Frame(record.image_key, taken, record.image_width, record.image_height, sightings)
        frames[record.source].append(frame)
    return dict(frames)


def tail(frames: Sequence[Frame], seconds: float) -> list[Frame]:
    """The frames of the last `seconds` before the latest (what the next hour replays)."""
    if not frames or seconds <= 0:
        return []
    last = max(frame.captured_at for frame in frames)
    return [frame for frame in frames if (last - frame.captured_at).total_seconds() <= seconds]


def tracker_settings(settings: TrackerSettings) -> dict[str, float | int | str | list[str]]:
    """The settings as a track document records them."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in settings.model_dump().items()}


def track_source(
    frames: Sequence[Frame],
    carried: Sequence[Frame],
    previous: SourceTracks | None,
    config: SourceConfig,
    *,
    partition: str,
    source: str,
    version: str,
    generated_at: datetime,
) -> SourceTracks:
    """The tracks of one source's hour: `frames` (the hour's), after `carried` (the previous hour's last seconds),
    whose tracks continue `previous` (the previous hour's document, when there is one)."""
    settings = config.tracker
    own = {frame.image_key for frame in frames}
    ordered = sorted(
        {frame.image_key: frame for frame in [*carried, *frames]}.values(), key=lambda f: (f.captured_at, f.image_key)
    )
    labels = sorted({s.label for frame in ordered for s in frame.sightings})
    if settings.classes:
        labels = [label for label in labels if label in settings.classes]
    tracks: list[Track] = []
    inherited = _Inheritance(previous)
    for label in labels:
        for seen in _follow(ordered, label, settings):
            if len(seen) < settings.min_frames or not any(s.frame.image_key in own for s in seen):
                continue  # a flicker, or a track the previous hour already holds whole
            tracks.append(_track(seen, own, config, inherited.id_for(seen, source)))
    tracks.sort(key=lambda track: (track.first_seen, track.track_id))
    return SourceTracks(
        partition=partition,
        source=source,
        version=version,
        generated_at=generated_at,
        tracker=tracker_settings(settings),
        lines={
            name: RelativeLine(start=list(line.start), end=list(line.end), in_side=list(line.in_side))
            for name, line in config.lines.items()
        },
        zones={name: [list(point) for point in zone.points] for name, zone in config.zones.items()},
        counts=TrackCounts.of(len(own), tracks, list(config.lines), list(config.zones)),
        tracks=tracks,
    )


def _follow(ordered: Sequence[Frame], label: str, settings: TrackerSettings) -> list[list[_Seen]]:
    """The settings' tracker over the frames' `label` detections: each track's sightings, in time order."""
    import supervision as sv

    tracker = _tracker(settings)
    start = ordered[0].captured_at if ordered else None
    found: defaultdict[int, list[_Seen]] = defaultdict(list)
    # The trackers name a track from its second sighting on: its first is kept here (by tracklet) until then.
    first: dict[int, tuple[object, _Seen]] = {}
    for frame in ordered:
        sightings = [s for s in frame.sightings if s.label == label]
        boxes = np.array(
            [[s.box.x, s.box.y, s.box.x + s.box.w, s.box.y + s.box.h] for s in sightings], dtype=np.float32
        ).reshape(-1, 4)
        detections = sv.Detections(
            xyxy=boxes,
            confidence=np.array([s.confidence for s in sightings], dtype=np.float32),
            data={"index": np.arange(len(sightings))},
        )
        assert start is not None
        known = {id(tracklet) for tracklet in tracker.tracks}
        result = tracker.update(detections, timestamp=(frame.captured_at - start).total_seconds())
        named = list(zip(result.data.get("index", []), _ids(result.tracker_id), strict=True))
        unnamed = [int(index) for index, tracker_id in named if tracker_id < 0]
        for tracklet in tracker.tracks:
            if id(tracklet) not in known and unnamed:
                # A new tracklet starts at its detection's box exactly: that detection is its first sighting.
                spawned = tracklet.get_state_bbox()
                index = min(unnamed, key=lambda i: float(np.abs(boxes[i] - spawned).sum()))
                unnamed.remove(index)
                first[id(tracklet)] = (tracklet, _Seen(frame, sightings[index]))
            elif tracklet.tracker_id >= 0 and id(tracklet) in first:
                found[int(tracklet.tracker_id)].append(first.pop(id(tracklet))[1])
        for index, tracker_id in named:
            if tracker_id >= 0:
                found[int(tracker_id)].append(_Seen(frame, sightings[int(index)]))
        live = {id(tracklet) for tracklet in tracker.tracks}
        first = {key: held for key, held in first.items() if key in live}
    return [found[tracker_id] for tracker_id in sorted(found)]


def _tracker(settings: TrackerSettings) -> Any:
    """The settings' tracker. Every sighting of a track gets its id at once (minimum_consecutive_frames=1):
    tracks too short are dropped afterwards (`min_frames`)."""
    from trackers import ByteTrackTracker, OCSORTTracker

    common: dict[str, Any] = {
        "lost_track_buffer": max(1, round(settings.max_gap_s * _TRACKER_FPS)),
        "frame_rate": _TRACKER_FPS,
        "minimum_consecutive_frames": 1,
        "minimum_iou_threshold": settings.match_iou,
        "high_conf_det_threshold": settings.high_confidence,
    }
    if settings.algorithm == "bytetrack":
        return ByteTrackTracker(**common, track_activation_threshold=settings.high_confidence)
    return OCSORTTracker(**common)


def _ids(tracker_ids: np.ndarray | None) -> list[int]:
    return [] if tracker_ids is None else [int(tracker_id) for tracker_id in tracker_ids]


class _Inheritance:
    """Ids of the previous hour's tracks, by the boxes they hold; each id goes on in one track at most."""

    def __init__(self, previous: SourceTracks | None) -> None:
        self._held: dict[str, list[tuple[str, str, Box]]] = defaultdict(list)
        for track in previous.tracks if previous else []:
            for observation in track.observations:
                self._held[observation.image_key].append((track.track_id, track.label, observation.box))
        self._taken: set[str] = set()

    def id_for(self, seen: list[_Seen], source: str) -> tuple[str, bool]:
        """The previous hour's id this track goes on with (and True), else a new id from its first sighting."""
        for sighting in reversed(seen):
            for track_id, label, box in self._held.get(sighting.frame.image_key, []):
                if (
                    label == sighting.sighting.label
                    and track_id not in self._taken
                    and iou(box, sighting.sighting.box) >= _SAME_BOX_IOU
                ):
                    self._taken.add(track_id)
                    return track_id, True
        first = seen[0]
        box = first.sighting.box
        digest = hashlib.sha256(
            f"{source}|{first.sighting.label}|{first.frame.image_key}|{box.x},{box.y},{box.w},{box.h}".encode()
        ).hexdigest()
        return digest[:12], False


def _track(seen: list[_Seen], own: set[str], config: SourceConfig, identity: tuple[str, bool]) -> Track:
    track_id, continued = identity
    anchor = config.tracker.anchor
    points = [s.anchor(anchor) for s in seen]
    mine = [s for s in seen if s.frame.image_key in own]
    crossings = [
        crossing
        for name, line in config.lines.items()
        for crossing in _crossings(name, line, seen, points)
        if crossing.image_key in own
    ]
    visits = [
        visit
        for name, zone in config.zones.items()
        for visit in _visits(name, zone, seen, points)
        if visit.image_key in own
    ]
    labels = [s.sighting.label for s in seen]
    return Track(
        track_id=track_id,
        label=max(sorted(set(labels)), key=labels.count),
        first_seen=mine[0].frame.captured_at,
        last_seen=mine[-1].frame.captured_at,
        frames=len(mine),
        continued=continued,
        path=[list(point) for point in _thinned([s.anchor(anchor) for s in mine])],
        crossings=sorted(crossings, key=lambda c: (c.at, c.line)),
        zones=sorted(visits, key=lambda v: (v.entered_at, v.zone)),
        observations=[
            Observation(
                image_key=s.frame.image_key,
                captured_at=s.frame.captured_at,
                width=s.frame.width,
                height=s.frame.height,
                confidence=round(s.sighting.confidence, 4),
                box=s.sighting.box,
            )
            for s in mine
        ],
    )


def _thinned(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    if len(points) > _PATH_POINTS:
        picks = np.linspace(0, len(points) - 1, _PATH_POINTS).round().astype(int)
        points = [points[i] for i in picks]
    return [(round(x, 4), round(y, 4)) for x, y in points]


def _crossings(name: str, line: Line, seen: list[_Seen], points: list[tuple[float, float]]) -> Iterable[Crossing]:
    """Where the anchor's move from one frame to the next crosses the line segment, and which way."""
    inward = np.sign(side(line.start, line.end, line.in_side))
    last: tuple[float, tuple[float, float]] | None = None  # the last point off the line, and its side
    for point, sighting in zip(points, seen, strict=True):
        now = np.sign(side(line.start, line.end, point))
        if now == 0:
            continue  # on the line: the crossing is counted when the anchor leaves it
        if (
            last is not None
            and last[0] != now
            and np.sign(side(last[1], point, line.start)) != np.sign(side(last[1], point, line.end))
        ):  # through the segment, not its extension
            yield Crossing(
                line=name,
                direction="in" if now == inward else "out",
                at=sighting.frame.captured_at,
                image_key=sighting.frame.image_key,
            )
        last = (now, point)


def _visits(name: str, zone: Zone, seen: list[_Seen], points: list[tuple[float, float]]) -> Iterable[ZoneVisit]:
    """Each run of frames with the anchor inside the zone, and the frame it began in."""
    import cv2

    polygon = np.array(zone.points, dtype=np.float32).reshape(-1, 1, 2)
    run: list[_Seen] = []
    for sighting, point in [*zip(seen, points, strict=True), (None, None)]:
        inside = point is not None and cv2.pointPolygonTest(polygon, (float(point[0]), float(point[1])), False) >= 0
        if inside and sighting is not None:
            run.append(sighting)
            continue
        if run:
            entered, left = run[0].frame.captured_at, run[-1].frame.captured_at
            yield ZoneVisit(
                zone=name,
                entered_at=entered,
                left_at=left,
                dwell_s=round((left - entered).total_seconds(), 3),
                image_key=run[0].frame.image_key,
            )
            run = []
