"""What every backend shares: from its network's raw rows to candidates and detections (postprocess.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

from imgassets.core.records import Detection
from imgassets.detector import lane_threads
from imgassets.detector.layouts import Preprocess, decode
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import CANDIDATE_FLOOR, Candidates, Thresholds, candidates

Network = TypeVar("Network")


class NetworkPool(Generic[Network]):
    """A backend's networks, lent one per forward pass: as many exist as passes ran at once (the lanes). They
    belong to no thread, so networks made before the process forked (`RowsDetector.warm`: the warm code server's
    forkserver) serve the lanes of every run forked from it."""

    def __init__(self, make: Callable[[], Network]) -> None:
        self._make = make
        self._idle: list[Network] = []
        self._lock = threading.Lock()

    @contextmanager
    def lease(self) -> Iterator[Network]:
        with self._lock:
            network = self._idle.pop() if self._idle else None
        if network is None:
            network = self._make()
        try:
            yield network
        finally:
            with self._lock:
                self._idle.append(network)

    def __len__(self) -> int:
        """How many networks are idle."""
        with self._lock:
            return len(self._idle)

    def fill(self, count: int) -> None:
        """At least `count` networks idle."""
        with self._lock:
            missing = count - len(self._idle)
        made = [self._make() for _ in range(missing)]
        with self._lock:
            self._idle.extend(made)


class RowsDetector:
    """A backend makes its networks and runs one on the network's input; this lends them to forward passes and
    turns their outputs, read by the model's layout (layouts.py), into candidates, and candidates into detections
    with a version's thresholds (which the network does not hold)."""

    backend: str

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        lanes: int | None = None,
        layout: str = "darknet",
        preprocess: Preprocess | None = None,
    ) -> None:
        self.files = files
        self.input_size = input_size
        self.layout = layout
        self.preprocess = preprocess or Preprocess(input_size)
        self.lanes, self._threads = lane_threads(lanes)
        # Process-wide in OpenCV: lanes × threads = cores. OpenCV's work (the OpenCV backend's network; decoding,
        # resizing, the network's input and thumbnails for both) runs in the lanes and the I/O threads, which
        # already use every core; a larger pool only spun (with the ONNX backend's default of two threads:
        # validation 2.8 -> 3.7 ms of CPU per bench photo, the network's input 2.2 -> 2.7 ms).
        cv2.setNumThreads(self._threads)
        self._networks: NetworkPool[Any] = NetworkPool(self._network)  # made on first use, or by warm()

    def _network(self) -> Any:
        """A new network of this backend (an ONNX Runtime session, an OpenCV Net)."""
        raise NotImplementedError

    def _forward(self, network: Any, blob: np.ndarray) -> list[np.ndarray]:
        """`network`'s outputs for the input `blob`, batch first."""
        raise NotImplementedError

    def outputs(self, blob: np.ndarray) -> list[np.ndarray]:
        """The network's outputs for an input made by `blob`. Thread-safe."""
        with self._networks.lease() as network:
            return self._forward(network, blob)

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The network's first output for the images: for the Darknet layout (images, rows, 5 + classes), as
        OpenCV's yolo layers give them."""
        return self.outputs(self.blob(images))[0]

    def warm(self) -> None:
        """Makes a network per lane and hashes the weights now, rather than on a run's first forward passes and
        record (0.05 s of CPU per onnxruntime session, 0.02 s for the hash)."""
        self._networks.fill(self.lanes)
        self.files.weights_sha256  # noqa: B018  # a cached property: computed here, kept for the records

    def blob(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The network's input for BGR images (layouts.Preprocess), NCHW float32."""
        return self.preprocess.blob(images)[0]

    def candidates(self, images: Sequence[np.ndarray], floor: float = CANDIDATE_FLOOR) -> list[Candidates]:
        """Each BGR image's candidate boxes above `floor` (what is stored: CANDIDATE_FLOOR): one forward pass for
        the whole list. Thread-safe."""
        if not images:
            return []
        blob, placements = self.preprocess.blob(images)
        decoded = decode(self.layout, self.outputs(blob), self.preprocess.size)
        return [
            candidates(rows, placement, self.preprocess.size, image.shape[1], image.shape[0], floor)
            for rows, placement, image in zip(decoded, placements, images, strict=True)
        ]

    def detect(self, images: Sequence[np.ndarray], thresholds: Thresholds) -> list[list[Detection]]:
        """The detections in BGR uint8 images under a version's `thresholds`; one forward pass for the whole list.
        Thread-safe."""
        labels = self.files.labels
        return [thresholds.select(found, labels) for found in self.candidates(images, thresholds.floor)]
