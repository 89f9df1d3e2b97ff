"""Turning raw YOLO output rows into clipped, NMS-filtered detections (shared by every backend)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from imgassets.records import Box, Detection


def decode(
    rows: np.ndarray,
    width: int,
    height: int,
    labels: Sequence[str],
    confidence: float,
    nms: float,
) -> list[Detection]:
    """`rows` is (n, 5 + classes): cx, cy, w, h relative to the image, objectness, per-class scores.

    Class scores already include objectness (Darknet's region layer multiplies them), as in the
    original project's decode. NMS runs per class, like Darknet and OpenCV's DetectionModel.
    """
    scores = rows[:, 5:]
    class_ids = scores.argmax(axis=1)
    confidences = scores[np.arange(len(rows)), class_ids]
    keep = confidences > confidence
    if not keep.any():
        return []
    rows, class_ids, confidences = rows[keep], class_ids[keep], confidences[keep]
    centers_x, centers_y = rows[:, 0] * width, rows[:, 1] * height
    box_w, box_h = rows[:, 2] * width, rows[:, 3] * height
    boxes = np.stack([centers_x - box_w / 2, centers_y - box_h / 2, box_w, box_h], axis=1)
    chosen = cv2.dnn.NMSBoxesBatched(boxes.tolist(), confidences.tolist(), class_ids.tolist(), confidence, nms)
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
