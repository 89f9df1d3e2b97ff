"""YOLOv4-tiny through OpenCV DNN: the reference backend (the original project's settings)."""

from __future__ import annotations

import cv2
import numpy as np

from imgassets.detector import BACKEND_NAMES
from imgassets.detector.base import RowsDetector
from imgassets.detector.model_files import ModelFiles


class OpenCVDetector(RowsDetector):
    backend = BACKEND_NAMES["opencv"]

    def __init__(
        self,
        files: ModelFiles,
        input_size: int,
        lanes: int | None = None,
    ) -> None:
        if files.cfg is None:
            raise ValueError("the OpenCV backend reads Darknet models (.cfg + .weights); use onnx for an ONNX file")
        super().__init__(files, input_size, lanes)

    def _network(self) -> cv2.dnn.Net:
        """A Net is not safe to share between threads: the pool lends each to one forward pass at a time."""
        net = cv2.dnn.readNetFromDarknet(str(self.files.cfg), str(self.files.weights))
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        return net

    def _forward(self, network: cv2.dnn.Net, blob: np.ndarray) -> list[np.ndarray]:
        network.setInput(blob)
        # One image gives (rows, 85) per output layer, a batch (images, rows, 85).
        forward = network.forward(network.getUnconnectedOutLayersNames())
        return [np.concatenate([out.reshape(len(blob), -1, out.shape[-1]) for out in forward], axis=1)]
