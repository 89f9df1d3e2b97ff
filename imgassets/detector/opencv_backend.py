"""YOLOv4-tiny through OpenCV DNN: the reference backend (the original project's settings)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import numpy as np

from imgassets.detector import lane_threads
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import decode
from imgassets.records import Detection


class OpenCVDetector:
    backend = "opencv-dnn"

    def __init__(
        self, files: ModelFiles, input_size: int, confidence: float, nms: float, lanes: int | None = None
    ) -> None:
        self.files = files
        self.input_size = input_size
        self.confidence = confidence
        self.nms = nms
        self.lanes, threads = lane_threads(lanes)
        cv2.setNumThreads(threads)  # process-wide in OpenCV: lanes × threads = cores
        self._local = threading.local()

    def _net(self) -> cv2.dnn.Net:
        """This thread's network (a Net is not safe to share between threads)."""
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.dnn.readNetFromDarknet(str(self.files.cfg), str(self.files.weights))
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
            self._local.net = net
        return net

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detects objects in BGR uint8 images; one forward pass for the whole list. Thread-safe."""
        if not images:
            return []
        size = (self.input_size, self.input_size)
        blob = cv2.dnn.blobFromImages(list(images), 1 / 255.0, size, swapRB=True, crop=False)
        net = self._net()
        net.setInput(blob)
        # One image gives (rows, 85) per output layer, a batch (images, rows, 85).
        forward = net.forward(net.getUnconnectedOutLayersNames())
        outputs = [out.reshape(len(images), -1, out.shape[-1]) for out in forward]
        results = []
        for index, image in enumerate(images):
            rows = np.concatenate([out[index] for out in outputs], axis=0)
            height, width = image.shape[:2]
            results.append(decode(rows, width, height, self.files.labels, self.confidence, self.nms))
        return results
