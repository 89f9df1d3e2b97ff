"""What every backend shares: from its network's raw rows to candidates and detections (postprocess.py)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import cv2
import numpy as np

from imgassets.detector import lane_threads
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import CANDIDATE_FLOOR, Candidates, candidates, select
from imgassets.records import Detection


class RowsDetector:
    """A backend gives `raw_rows`; this turns them into candidates and detections with its thresholds."""

    backend: str

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        confidence: float,
        nms: float,
        classes: Collection[str] | None = None,
        lanes: int | None = None,
    ) -> None:
        self.files = files
        self.input_size = input_size
        self.confidence = confidence
        self.nms = nms
        self.classes = frozenset(classes) if classes is not None else None
        self.lanes, self._threads = lane_threads(lanes)
        # Process-wide in OpenCV: lanes × threads = cores. OpenCV's work (the OpenCV backend's network; decoding,
        # resizing, the network's input and thumbnails for both) runs in the lanes and the I/O threads, which
        # already use every core; a larger pool only spun (with the ONNX backend's default of two threads:
        # validation 2.8 -> 3.7 ms of CPU per bench photo, the network's input 2.2 -> 2.7 ms).
        cv2.setNumThreads(self._threads)

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(images, rows, 5 + classes) network outputs, as OpenCV's yolo layers give them."""
        raise NotImplementedError

    def blob(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The network's input: OpenCV's preprocessing (resize INTER_LINEAR, BGR->RGB, /255), NCHW float32, so
        every backend sees the same input as the reference."""
        size = (self.input_size, self.input_size)
        return cv2.dnn.blobFromImages(list(images), 1 / 255.0, size, swapRB=True, crop=False)

    def candidates(self, images: Sequence[np.ndarray]) -> list[Candidates]:
        """Each BGR image's candidate boxes above the floor (or above this detector's confidence if lower):
        one forward pass for the whole list. Thread-safe."""
        if not images:
            return []
        floor = min(CANDIDATE_FLOOR, self.confidence)
        return [
            candidates(rows, image.shape[1], image.shape[0], floor)
            for rows, image in zip(self.raw_rows(images), images, strict=True)
        ]

    def select(self, found: Candidates) -> list[Detection]:
        """This detector's detections among an image's candidates."""
        return select(found, self.files.labels, self.confidence, self.nms, self.classes)

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detects objects in BGR uint8 images; one forward pass for the whole list. Thread-safe."""
        return [self.select(found) for found in self.candidates(images)]
