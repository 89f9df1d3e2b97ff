"""A backend that finds nothing, at no cost: what `imgassets bench --detector none` runs the pipeline with, to
measure what the orchestration itself (sensor, runs, validation, records, roll-ups, tables) carries when the
detector is not the bottleneck. Its records are never a detection result: they say backend "none"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from imgassets.core.records import Detection
from imgassets.detector import BACKEND_NAMES, lane_threads
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import CANDIDATE_FLOOR, Candidates, Thresholds


class NullDetector:
    backend = BACKEND_NAMES["none"]
    layout = "none"

    def __init__(self, files: ModelFiles, input_size: int, lanes: int | None = None) -> None:
        self.files = files
        self.input_size = input_size
        self.lanes, _ = lane_threads(lanes)

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray:
        return np.zeros((len(images), 0, 5 + len(self.files.labels)), dtype=np.float32)

    def candidates(self, images: Sequence[np.ndarray], floor: float = CANDIDATE_FLOOR) -> list[Candidates]:
        return [
            Candidates(
                width=image.shape[1],
                height=image.shape[0],
                boxes=np.zeros((0, 4), dtype=np.float32),
                class_ids=np.zeros(0, dtype=np.int32),
                scores=np.zeros(0, dtype=np.float32),
            )
            for image in images
        ]

    def detect(self, images: Sequence[np.ndarray], thresholds: Thresholds) -> list[list[Detection]]:
        return [[] for _ in images]

    def warm(self) -> None:
        """Nothing to make."""
