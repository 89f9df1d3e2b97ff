"""How far one detector's detections are from another's on the same images: B's precision and recall with A as the
reference, matched as the versions' comparisons match them (`imgassets.detector.comparison.matches`: same
class, IoU >= 0.5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from imgassets.detector import Detector
from imgassets.detector.comparison import matches
from imgassets.detector.postprocess import Thresholds


@dataclass(frozen=True)
class Agreement:
    images: int
    reference: int  # A's detections
    other: int  # B's detections
    matched: int

    @property
    def precision(self) -> float:
        """Of B's detections, the share A also made (1 when B made none)."""
        return self.matched / self.other if self.other else 1.0

    @property
    def recall(self) -> float:
        """Of A's detections, the share B also made (1 when A made none)."""
        return self.matched / self.reference if self.reference else 1.0


def agreement(reference: Detector, other: Detector, images: Iterable[np.ndarray], thresholds: Thresholds) -> Agreement:
    """`other`'s agreement with `reference` on BGR images under the same `thresholds`, summed over the images (one
    forward pass each)."""
    count = total_a = total_b = matched = 0
    for image in images:
        a, b = reference.detect([image], thresholds)[0], other.detect([image], thresholds)[0]
        count += 1
        total_a += len(a)
        total_b += len(b)
        matched += sum(matches(a, b).values())
    return Agreement(count, total_a, total_b, matched)
