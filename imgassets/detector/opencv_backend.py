"""YOLOv4-tiny through OpenCV DNN: the reference backend (the original project's settings)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import cv2
import numpy as np

from imgassets.detector import BACKEND_NAMES
from imgassets.detector.base import NetworkPool, RowsDetector
from imgassets.detector.model_files import ModelFiles


class OpenCVDetector(RowsDetector):
    backend = BACKEND_NAMES["opencv"]

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        confidence: float,
        nms: float,
        lanes: int | None = None,
        classes: Collection[str] | None = None,
    ) -> None:
        if files.cfg is None:
            raise ValueError("the OpenCV backend reads Darknet models (.cfg + .weights); use onnx for an ONNX file")
        super().__init__(files, input_size, confidence, nms, classes, lanes)
        self._networks = NetworkPool(self._net)  # a Net is not safe to share between threads: one per forward pass

    def _net(self) -> cv2.dnn.Net:
        net = cv2.dnn.readNetFromDarknet(str(self.files.cfg), str(self.files.weights))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        return net

    def raw_rows(self, images: Sequence[np.ndarray]) -> np.ndarray:
        blob = self.blob(images)
        with self._networks.lease() as net:
            net.setInput(blob)
            # One image gives (rows, 85) per output layer, a batch (images, rows, 85).
            forward = net.forward(net.getUnconnectedOutLayersNames())
        return np.concatenate([out.reshape(len(images), -1, out.shape[-1]) for out in forward], axis=1)
