"""Short synthetic video clips whose multi-object-tracking truth is known by construction.

No labelled video can be downloaded, so the truth is built honestly: real object crops cut from the real demo
photos (data/photos) move along known paths over a real background (person.jpg with its three objects replaced
by the same photo's own field texture), and the frames are encoded as a real mp4 (OpenCV's mp4v) that OpenCV
reads back. Every truth record (boxes, line crossings, zone visits) is computed from the boxes actually pasted
into the frames, never from the intended paths, so truth and pixels cannot disagree.

Conventions (the product's, imgassets/core/sources.py): points are image-relative (0..1); an object's anchor is its
box's bottom-centre; a crossing happens between two consecutive frames whose anchors lie on different sides of
the line (side = sign of the cross product), "in" when the anchor moves to the side of `in_point`; a zone visit
is a maximal run of consecutive frames with the anchor inside the zone polygon. No anchor is ever rendered
exactly on the line or on a zone edge, so no convention for those ties matters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from imgassets.core.settings import PROJECT_ROOT

PHOTOS = PROJECT_ROOT / "data" / "photos"
#: The source `imgassets stack up` ingests the gate clip as (sources.toml draws its line and zone).
DEMO_SOURCE = "cam-gate"

Point = tuple[float, float]
Rect = tuple[int, int, int, int]  # x, y, w, h in pixels

#: Object rectangles (x, y, w, h) in the demo photos, measured by running the product's detector once on each
#: photo (the default version: YOLOv4-tiny on ONNX Runtime, confidence 0.5, NMS 0.4; OpenCV gives the same boxes):
#: person.jpg -> person 0.994, dog 0.985, horse 0.779; dog.jpg -> dog 0.87, truck 0.815, bicycle 0.606.
CROPS: dict[str, tuple[str, Rect]] = {
    "person": ("person.jpg", (191, 93, 83, 285)),
    "dog": ("person.jpg", (63, 261, 138, 89)),
    "truck": ("dog.jpg", (464, 80, 240, 91)),
}

#: The background: person.jpg without its objects. Inside these rectangles (the detector's person, dog and horse
#: boxes above, grown by 8 px) the field below HORIZON_ROW is replaced by the photo's own field texture from
#: the clean columns CLEAN_COLUMNS (between the person and the horse) in the same rows, tiled; the few rows
#: above it (hills and sky) are inpainted. The detector finds nothing in the result even at confidence 0.2.
BACKGROUND_PHOTO = "person.jpg"
BACKGROUND_HOLES: tuple[tuple[int, int, int, int], ...] = (
    (55, 253, 209, 358),
    (183, 85, 282, 386),
    (393, 123, 612, 347),
)
CLEAN_COLUMNS = (284, 392)
HORIZON_ROW = 142


@dataclass(frozen=True)
class TruthBox:
    """Where an object was pasted in one frame: the full rectangle, even where a nearer object covers part of
    it (the MOT convention: occluded objects are still there)."""

    frame_index: int
    t: float
    object_id: str
    label: str
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class TruthCrossing:
    """An object's anchor changed sides of the line between `frame_index - 1` and `frame_index` (the frame after
    the crossing, as the product reports it)."""

    object_id: str
    label: str
    direction: Literal["in", "out"]
    frame_index: int


@dataclass(frozen=True)
class Clip:
    """A rendered clip and its truth: boxes per frame index (t = index / fps), crossings of `line`, visits of
    `zone`. The video holds exactly `frames` frames at `fps`, so a consumer that samples it at `fps` sees
    frame i at time i / fps."""

    path: Path
    fps: float
    frames: int
    width: int
    height: int
    boxes: tuple[TruthBox, ...]
    crossings: tuple[TruthCrossing, ...]
    zone_visits: dict[str, int]
    line: tuple[Point, Point]
    in_point: Point
    zone: tuple[Point, ...]

    def unique(self) -> dict[str, int]:
        """Distinct objects per label: what a perfect tracker's unique-object count would be."""
        labels = {box.object_id: box.label for box in self.boxes}
        return dict(sorted(Counter(labels.values()).items()))

    def crossing_counts(self) -> dict[str, int]:
        """Crossings of the line per direction, over all objects."""
        counts = Counter(crossing.direction for crossing in self.crossings)
        return {"in": counts["in"], "out": counts["out"]}

    def camera(self, line: str = "gate", zone: str = "left-half") -> dict[str, object]:
        """The clip's line and zone as a source's table of sources.toml (`SourceConfig`)."""
        (start, end), inside = self.line, self.in_point
        return {
            "lines": {line: {"from": list(start), "to": list(end), "in_side": list(inside)}},
            "zones": {zone: {"points": [list(point) for point in self.zone]}},
        }

    def sources_toml(self, source: str, line: str = "gate", zone: str = "left-half") -> str:
        """What a user writes in sources.toml to describe the clip's camera as `source`."""
        (start, end), inside = self.line, self.in_point
        points = ", ".join(f"[{x}, {y}]" for x, y in self.zone)
        return (
            f"\n[sources.{source}.lines.{line}]\nfrom = {list(start)}\nto = {list(end)}\nin_side = {list(inside)}\n"
            f"\n[sources.{source}.zones.{zone}]\npoints = [{points}]\n"
        )


@dataclass(frozen=True)
class Actor:
    """One object of a scenario: a crop scaled by `scale`, whose box's bottom-centre follows the keyframes
    (frame, anchor x, anchor y in pixels; linear in between, held before the first and after the last). A
    crop faces the way it moves: it is mirrored while the object moves left of the way it faces in its photo."""

    object_id: str
    label: str
    crop: str
    scale: float
    keyframes: tuple[tuple[int, float, float], ...]
    faces_right: bool = True


@dataclass(frozen=True)
class Scenario:
    """Everything make_clip needs to render a clip and work out its truth."""

    width: int
    height: int
    fps: float
    frames: int
    actors: tuple[Actor, ...]
    line: tuple[Point, Point]
    in_point: Point
    zone: tuple[Point, ...]


def gate() -> Scenario:
    """A gate: a vertical line in the middle ("in" is to the right) and the left half as a zone.

    Persons A (left -> right: "in") and B (right -> left: "out") pass each other on the line, crossing it four
    frames apart: A is nearer and in front, 110 px lower, and hides up to ~60% of B (the detector misses B for
    about five frames there). Person C, far back, leaves the zone across the line ("in") and comes back into it
    ("out"); she stays left of B all along, so that pair never overlaps. The truck drives left -> right ("in")
    along the far edge of the field and parks; the dog stands in the zone the whole clip. Totals: in 3, out 2.
    960x720 at 8 fps for 12 s (96 frames): persons 171-242 px tall, the truck 360x136 px (at 240x91 the detector
    often called it a car as well).
    """
    return Scenario(
        width=960,
        height=720,
        fps=8.0,
        frames=96,
        actors=(
            Actor("truck", "truck", "truck", 1.5, ((0, 200, 230), (64, 760, 230))),
            Actor(
                "person_C",
                "person",
                "person",
                0.6,
                ((0, 330, 400), (16, 600, 400), (20, 600, 400), (50, 300, 400), (95, 150, 400)),
            ),
            Actor("person_B", "person", "person", 0.75, ((0, 800, 520), (48, 490, 520), (95, 300, 520))),
            Actor("person_A", "person", "person", 0.85, ((8, 270, 630), (48, 490, 630), (95, 748, 630))),
            Actor("dog", "dog", "dog", 1.3, ((0, 130, 700),)),
        ),
        line=((0.5, 0.0), (0.5, 1.0)),
        in_point=(1.0, 0.5),
        zone=((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)),
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {"gate": gate}


def make_clip(directory: Path, scenario: str = "gate") -> Clip:
    """Renders `scenario` to `directory`/<scenario>.mp4 and returns it with its truth."""
    spec = SCENARIOS[scenario]()
    background = _background(spec.width, spec.height)
    boxes = [_render_boxes(actor, spec) for actor in spec.actors]
    path = Path(directory) / f"{scenario}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), spec.fps, (spec.width, spec.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} with mp4v")
    try:
        for index in range(spec.frames):
            frame = background.copy()
            # Painter's order: the farther (higher on screen) object first, so nearer objects cover it.
            drawn = sorted(zip(spec.actors, boxes, strict=True), key=lambda pair: _bottom(pair[1][index]))
            for actor, actor_boxes in drawn:
                x, y, w, h = actor_boxes[index]
                frame[y : y + h, x : x + w] = _crop(actor.crop, w, h, _mirrored(actor, actor_boxes, index))
            writer.write(frame)
    finally:
        writer.release()
    truth = tuple(
        TruthBox(index, index / spec.fps, actor.object_id, actor.label, *actor_boxes[index])
        for index in range(spec.frames)
        for actor, actor_boxes in zip(spec.actors, boxes, strict=True)
    )
    anchors = {
        actor.object_id: [_anchor(box, spec.width, spec.height) for box in actor_boxes]
        for actor, actor_boxes in zip(spec.actors, boxes, strict=True)
    }
    labels = {actor.object_id: actor.label for actor in spec.actors}
    return Clip(
        path=path,
        fps=spec.fps,
        frames=spec.frames,
        width=spec.width,
        height=spec.height,
        boxes=truth,
        crossings=tuple(
            sorted(
                (c for oid, points in anchors.items() for c in _crossings(oid, labels[oid], points, spec)),
                key=lambda c: (c.frame_index, c.object_id),
            )
        ),
        zone_visits={oid: _visits(points, spec.zone) for oid, points in anchors.items()},
        line=spec.line,
        in_point=spec.in_point,
        zone=spec.zone,
    )


def tracking_scores(clip: Clip, predicted: list[tuple[int, str, int, int, int, int]]) -> dict[str, float]:
    """CLEAR MOTA and identity IDF1 of `predicted` (frame index, track id, x, y, w, h in pixels) against the
    clip's truth, class-agnostic, matched at IoU >= 0.5, by the `trackers` library's TrackEval port (so the
    scores mean what they mean in published MOT benchmarks)."""
    from trackers.eval import box_iou, compute_clear_metrics, compute_identity_metrics

    gt_number = {oid: n for n, oid in enumerate(sorted({box.object_id for box in clip.boxes}))}
    track_number: dict[str, int] = {}
    truth: list[list[tuple[int, Rect]]] = [[] for _ in range(clip.frames)]
    found: list[list[tuple[int, Rect]]] = [[] for _ in range(clip.frames)]
    for box in clip.boxes:
        truth[box.frame_index].append((gt_number[box.object_id], (box.x, box.y, box.w, box.h)))
    for frame_index, track_id, x, y, w, h in predicted:
        if not 0 <= frame_index < clip.frames:
            raise ValueError(f"frame index {frame_index} outside the clip's {clip.frames} frames")
        number = track_number.setdefault(track_id, len(track_number))
        found[frame_index].append((number, (x, y, w, h)))

    def ids(rows: list[tuple[int, Rect]]) -> np.ndarray:
        return np.array([number for number, _ in rows], dtype=np.int64)

    def rects(rows: list[tuple[int, Rect]]) -> np.ndarray:
        return np.array([rect for _, rect in rows], dtype=np.float64).reshape(-1, 4)

    gt_ids = [ids(rows) for rows in truth]
    tracker_ids = [ids(rows) for rows in found]
    similarity = [box_iou(rects(gt), rects(pred), box_format="xywh") for gt, pred in zip(truth, found, strict=True)]
    clear = compute_clear_metrics(gt_ids, tracker_ids, similarity, threshold=0.5)
    identity = compute_identity_metrics(gt_ids, tracker_ids, similarity, threshold=0.5)
    return {
        "mota": float(clear["MOTA"]),
        "idf1": float(identity["IDF1"]),
        "id_switches": float(clear["IDSW"]),
        "precision": float(clear["CLR_Pr"]),
        "recall": float(clear["CLR_Re"]),
    }


def _render_boxes(actor: Actor, spec: Scenario) -> list[Rect]:
    """The pixel box of `actor` in every frame, nudged by a pixel where its anchor would sit exactly on the
    line (so its side is never 0), and checked to lie strictly inside the frame (so its anchor is never on the
    zone's frame-edge sides)."""
    _, (_, _, crop_w, crop_h) = CROPS[actor.crop]
    w, h = max(1, round(crop_w * actor.scale)), max(1, round(crop_h * actor.scale))
    frames, xs, ys = zip(*actor.keyframes, strict=True)
    indices = np.arange(spec.frames)
    centres = np.interp(indices, frames, xs)
    bottoms = np.interp(indices, frames, ys)
    boxes = []
    for cx, bottom in zip(centres, bottoms, strict=True):
        x, y = round(cx - w / 2), round(bottom) - h
        if _side(_anchor((x, y, w, h), spec.width, spec.height), spec.line) == 0:
            x += 1
        if not (0 < x < spec.width - w and 0 < y < spec.height - h):
            raise ValueError(f"{actor.object_id} leaves the {spec.width}x{spec.height} frame: {(x, y, w, h)}")
        boxes.append((x, y, w, h))
    return boxes


def _mirrored(actor: Actor, boxes: Sequence[Rect], index: int) -> bool:
    """Whether the crop is shown mirrored in frame `index`: it faces the way the object last moved."""
    for i in range(index, 0, -1):
        dx = boxes[i][0] - boxes[i - 1][0]
        if dx:
            return (dx > 0) != actor.faces_right
    for i in range(index + 1, len(boxes)):  # not moved yet: face the way it is about to move
        dx = boxes[i][0] - boxes[i - 1][0]
        if dx:
            return (dx > 0) != actor.faces_right
    return False


def _bottom(box: Rect) -> int:
    return box[1] + box[3]


def _anchor(box: Rect, width: int, height: int) -> Point:
    """The box's bottom-centre, image-relative."""
    x, y, w, h = box
    return ((x + w / 2) / width, (y + h) / height)


def _side(point: Point, line: tuple[Point, Point]) -> float:
    (ax, ay), (bx, by) = line
    px, py = point
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _crossings(object_id: str, label: str, anchors: Sequence[Point], spec: Scenario) -> list[TruthCrossing]:
    in_side = np.sign(_side(spec.in_point, spec.line))
    sides = [np.sign(_side(point, spec.line)) for point in anchors]
    return [
        TruthCrossing(object_id, label, "in" if sides[i] == in_side else "out", i)
        for i in range(1, len(sides))
        if sides[i] != sides[i - 1]
    ]


def _inside(point: Point, polygon: Sequence[Point]) -> bool:
    """Ray casting (points on an edge never occur here: see _render_boxes)."""
    px, py = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if (y1 > py) != (y2 > py) and px < x1 + (py - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _visits(anchors: Sequence[Point], zone: Sequence[Point]) -> int:
    flags = [_inside(point, zone) for point in anchors]
    return sum(1 for i, flag in enumerate(flags) if flag and (i == 0 or not flags[i - 1]))


@cache
def _photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS / name))
    if image is None:
        raise FileNotFoundError(PHOTOS / name)
    return image


@cache
def _crop(name: str, w: int, h: int, mirrored: bool) -> np.ndarray:
    photo, (x, y, cw, ch) = CROPS[name]
    crop = _photo(photo)[y : y + ch, x : x + cw]
    interpolation = cv2.INTER_AREA if w < cw else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (w, h), interpolation=interpolation)
    return cv2.flip(crop, 1) if mirrored else crop


@cache
def _background(width: int, height: int) -> np.ndarray:
    """person.jpg without its objects (see BACKGROUND_HOLES), scaled to cover width x height and centre-cut."""
    photo = _photo(BACKGROUND_PHOTO)
    clean = photo.copy()
    mask = np.zeros(photo.shape[:2], np.uint8)
    start, stop = CLEAN_COLUMNS
    for x0, y0, x1, y1 in BACKGROUND_HOLES:
        columns = [start + (c - x0) % (stop - start) for c in range(x0, x1)]
        top = max(y0, HORIZON_ROW)
        clean[top:y1, x0:x1] = photo[top:y1][:, columns]
        if y0 < HORIZON_ROW:
            mask[y0 : HORIZON_ROW + 3, x0:x1] = 255
    clean = cv2.inpaint(clean, mask, 5, cv2.INPAINT_TELEA)
    scale = max(width / clean.shape[1], height / clean.shape[0])
    size = (max(width, round(clean.shape[1] * scale)), max(height, round(clean.shape[0] * scale)))
    scaled = cv2.resize(clean, size, interpolation=cv2.INTER_LINEAR)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])
