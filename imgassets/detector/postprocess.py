"""Turning raw YOLO output rows into clipped, NMS-filtered detections (shared by every backend).

Two steps, so a detector version that differs only in thresholds or classes needs no forward pass: `candidates`
keeps the rows whose best class score is above a floor (what is stored per image, imgassets/detector/candidates.py), and
`Thresholds.select` applies a version's confidence, NMS and class filter to them: `select(candidates(rows, floor))`
equals `select(candidates(rows, c))` for its confidence c >= floor: the same rows, in the same order, reach NMS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from imgassets.core.records import Box, Detection
from imgassets.detector.layouts import Decoded, Placement

NmsMode = Literal["per_class", "agnostic"]

#: The lowest confidence kept with an image's candidates: versions with a confidence at or above it are computed
#: from the stored candidates. (Darknet's yolo layer, and so both backends, already zero class scores <= 0.2.)
CANDIDATE_FLOOR = 0.1


@dataclass(frozen=True)
class Candidates:
    """An image's candidate boxes: `boxes` (n, 4) float32 cx, cy, w, h relative to the image; `class_ids` (n,)
    the best class of each; `scores` (n,) float32 its score (objectness × class probability); in network row
    order. `width` and `height` are the image's, in pixels."""

    width: int
    height: int
    boxes: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def candidates(decoded: Decoded, placement: Placement, size: int, width: int, height: int, floor: float) -> Candidates:
    """An image's rows whose best class score is above `floor`, with boxes relative to the image (see layouts)."""
    keep = decoded.scores > floor
    return Candidates(
        width=width,
        height=height,
        boxes=np.ascontiguousarray(decoded.on_image(placement, size, width, height)[keep], dtype=np.float32),
        class_ids=decoded.class_ids[keep].astype(np.int32),
        scores=decoded.scores[keep].astype(np.float32),
    )


@dataclass(frozen=True)
class Thresholds:
    """What turns candidates into detections: a detector version's confidence, NMS, class filter and NMS mode.
    They belong to the version (`DetectorVersion.thresholds`), not to the network, so versions that differ only
    here share one forward pass (and its stored candidates)."""

    confidence: float
    nms: float
    #: Only these classes are kept (None: every class of the model).
    classes: frozenset[str] | None = None
    nms_mode: NmsMode = "per_class"

    @property
    def floor(self) -> float:
        """The candidates these thresholds need: the stored floor, or their own confidence when it is lower."""
        return min(CANDIDATE_FLOOR, self.confidence)

    def select(self, found: Candidates, labels: Sequence[str]) -> list[Detection]:
        """The detections above `confidence` after NMS, in pixels, clipped; only `classes` when given (filtered
        before NMS). NMS is per class (Darknet, OpenCV's DetectionModel) or class-agnostic, over all boxes (the
        original project's `cv2.dnn.NMSBoxes`: a box overlapping a higher-scored box of another class is dropped).
        `labels`: the model's class names."""
        keep = found.scores > self.confidence
        if self.classes is not None:
            wanted = [index for index, label in enumerate(labels) if label in self.classes]
            keep &= np.isin(found.class_ids, wanted)
        if not keep.any():
            return []
        rows, class_ids, confidences = found.boxes[keep], found.class_ids[keep], found.scores[keep]
        width, height = found.width, found.height
        centers_x, centers_y = rows[:, 0] * width, rows[:, 1] * height
        box_w, box_h = rows[:, 2] * width, rows[:, 3] * height
        boxes = np.stack([centers_x - box_w / 2, centers_y - box_h / 2, box_w, box_h], axis=1)
        if self.nms_mode == "agnostic":
            chosen = cv2.dnn.NMSBoxes(boxes.tolist(), confidences.tolist(), self.confidence, self.nms)
        else:
            chosen = cv2.dnn.NMSBoxesBatched(
                boxes.tolist(), confidences.tolist(), class_ids.tolist(), self.confidence, self.nms
            )
        detections = []
        for index in np.asarray(chosen, dtype=int).reshape(-1):
            box = _clip(boxes[index], width, height)
            if box is None:
                continue
            detections.append(
                Detection(
                    label=labels[int(class_ids[index])],
                    class_id=int(class_ids[index]),
                    confidence=round(float(confidences[index]), 4),
                    box=box,
                )
            )
        return sorted(detections, key=lambda d: -d.confidence)


def _clip(box: np.ndarray, width: int, height: int) -> Box | None:
    x0 = int(round(max(0.0, min(float(box[0]), width))))
    y0 = int(round(max(0.0, min(float(box[1]), height))))
    x1 = int(round(max(0.0, min(float(box[0] + box[2]), width))))
    y1 = int(round(max(0.0, min(float(box[1] + box[3]), height))))
    if x1 <= x0 or y1 <= y0:
        return None
    return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)
