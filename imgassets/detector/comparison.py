"""Two detector versions' records of one hour, compared: per-class counts, the images where they disagree, and
box agreement (class and IoU >= 0.5), with B's precision and recall measured against A.

Matching follows the usual detection evaluation (COCO, Pascal VOC): per image and class, B's boxes in order of
confidence each take the unmatched A box of highest IoU, if that IoU reaches the threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

from imgassets.core.records import (
    Agreement,
    Box,
    ClassAgreement,
    Comparison,
    Detection,
    DetectionRecord,
    ImageDisagreement,
)

IOU_THRESHOLD = 0.5


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two pixel boxes (0 when either is empty)."""
    width = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    height = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    return inter / (a.w * a.h + b.w * b.h - inter)


def matches(a: list[Detection], b: list[Detection], threshold: float = IOU_THRESHOLD) -> Counter[str]:
    """Matched boxes per class between one image's detections by A and by B."""
    matched: Counter[str] = Counter()
    free = list(a)
    for found in sorted(b, key=lambda d: -d.confidence):
        best, best_iou = None, threshold
        for reference in free:
            if reference.label == found.label and (overlap := iou(reference.box, found.box)) >= best_iou:
                best, best_iou = reference, overlap
        if best is not None:
            free.remove(best)
            matched[found.label] += 1
    return matched


def compare(
    partition: str,
    generated_at: datetime,
    names: tuple[str, str],
    detectors: tuple[str, str],
    records_a: Mapping[str, DetectionRecord],
    records_b: Mapping[str, DetectionRecord],
) -> Comparison:
    """The hour's comparison; records are keyed by image key."""
    counts_a: Counter[str] = Counter()
    counts_b: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    disagreements = []
    both = records_a.keys() & records_b.keys()
    for image_key in sorted(both):
        a, b = records_a[image_key].detections, records_b[image_key].detections
        counts_a.update(d.label for d in a)
        counts_b.update(d.label for d in b)
        found = matches(a, b)
        matched.update(found)
        agreed = sum(found.values())
        if agreed < len(a) or agreed < len(b):
            disagreements.append(
                ImageDisagreement(
                    image_key=image_key,
                    objects_a=len(a),
                    objects_b=len(b),
                    matched=agreed,
                    only_a=len(a) - agreed,
                    only_b=len(b) - agreed,
                    difference=len(a) + len(b) - 2 * agreed,
                )
            )
    return Comparison(
        **Agreement.counted(len(both), sum(counts_a.values()), sum(counts_b.values()), sum(matched.values())),
        partition=partition,
        generated_at=generated_at,
        version_a=names[0],
        version_b=names[1],
        detector_a=detectors[0],
        detector_b=detectors[1],
        iou_threshold=IOU_THRESHOLD,
        only_in_a=len(records_a.keys() - both),
        only_in_b=len(records_b.keys() - both),
        classes=[
            ClassAgreement(label=label, a=counts_a[label], b=counts_b[label], matched=matched[label])
            for label in sorted(counts_a.keys() | counts_b.keys())
        ],
        disagreements=sorted(disagreements, key=lambda d: (-d.difference, d.image_key)),
    )
