"""YOLOv4-tiny through OpenCV DNN: the reference backend (the original project's settings)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import decode
from imgassets.records import Detection


class OpenCVDetector:
    backend = "opencv-dnn"

    def __init__(self, files: ModelFiles, input_size: int, confidence: float, nms: float) -> None:
        self.files = files
        self.input_size = input_size
        self.confidence = confidence
        self.nms = nms
        self._net = cv2.dnn.readNetFromDarknet(str(files.cfg), str(files.weights))
        self._net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self._net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._outputs = self._net.getUnconnectedOutLayersNames()

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detects objects in BGR uint8 images; one forward pass for the whole list."""
        if not images:
            return []
        size = (self.input_size, self.input_size)
        blob = cv2.dnn.blobFromImages(list(images), 1 / 255.0, size, swapRB=True, crop=False)
        self._net.setInput(blob)
        # One image gives (rows, 85) per output layer, a batch (images, rows, 85).
        outputs = [out.reshape(len(images), -1, out.shape[-1]) for out in self._net.forward(self._outputs)]
        results = []
        for index, image in enumerate(images):
            rows = np.concatenate([out[index] for out in outputs], axis=0)
            height, width = image.shape[:2]
            results.append(decode(rows, width, height, self.files.labels, self.confidence, self.nms))
        return results
