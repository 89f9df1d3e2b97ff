"""ONNX models of every layout a user may bring, made by graph surgery on the converted YOLOv4-tiny.

No YOLOv5/YOLOv8/end-to-end/DETR weights can be downloaded here, so each test model is the real YOLOv4-tiny with
ONNX nodes appended that re-express its output rows (cx, cy, w, h relative to the input, objectness, objectness ×
class probability) in that family's layout, with the metadata properties ultralytics exports carry. The same
network read through each layout must then give the native path's detections: a decoder that misreads a column,
a scale or an order cannot pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from imgassets.detector import darknet_onnx, find_model_files
from imgassets.detector.layouts import IMAGENET_MEAN, IMAGENET_STD

SIZE = 416
#: The end-to-end model's NMS: the native path's (per class, IoU 0.4), above the candidate floor.
E2E_IOU, E2E_SCORE = 0.4, 0.1


def darknet_model() -> onnx.ModelProto:
    """The converted YOLOv4-tiny: input `images`, output `rows` (batch, 2535, 85)."""
    return onnx.load(str(darknet_onnx.cached_onnx_model(find_model_files(), SIZE)))


def ultralytics_metadata(names: tuple[str, ...]) -> dict[str, str]:
    """The metadata properties an ultralytics export writes (names as a dict literal, imgsz, stride)."""
    return {
        "names": repr(dict(enumerate(names))),
        "imgsz": f"[{SIZE}, {SIZE}]",
        "stride": "32",
        "task": "detect",
    }


class _Surgery:
    """Appends nodes after the converted model's `rows` output and replaces the graph's outputs."""

    def __init__(self) -> None:
        self.model = darknet_model()
        self.graph = self.model.graph
        self._count = 0

    def const(self, value: np.ndarray | np.generic | float | list[int]) -> str:
        """An initializer: floats as float32, lists as int64 (axes, sizes), arrays as they are."""
        array = np.asarray(value, dtype=np.float32 if isinstance(value, float) else None)
        if isinstance(value, list):
            array = array.astype(np.int64)
        self._count += 1
        name = f"surgery_const_{self._count}"
        self.graph.initializer.append(numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        self._count += 1
        name = f"surgery_{op.lower()}_{self._count}"
        self.graph.node.append(helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def columns(self, start: int, end: int) -> str:
        """rows[:, :, start:end]."""
        return self.node("Slice", ["rows", self.const([start]), self.const([end]), self.const([2])])

    def finish(self, outputs: dict[str, str], metadata: dict[str, str] | None = None) -> onnx.ModelProto:
        """The model with `outputs` (graph output name -> tensor) as its outputs."""
        del self.graph.output[:]
        for output, tensor in outputs.items():
            self.graph.node.append(helper.make_node("Identity", [tensor], [output]))
            self.graph.output.append(
                helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", "rows", "columns"])
            )
        for key, value in (metadata or {}).items():
            self.model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
        onnx.checker.check_model(self.model)
        return self.model


def yolov5(names: tuple[str, ...]) -> onnx.ModelProto:
    """(1, N, 85): cx, cy, w, h in input pixels, objectness, class probability (score / objectness)."""
    s = _Surgery()
    boxes = s.node("Mul", [s.columns(0, 4), s.const(float(SIZE))])
    objectness = s.columns(4, 5)
    probability = s.node("Div", [s.columns(5, 85), s.node("Max", [objectness, s.const(1e-12)])])
    rows = s.node("Concat", [boxes, objectness, probability], axis=2)
    return s.finish({"output0": rows}, ultralytics_metadata(names))


def yolov8(names: tuple[str, ...]) -> onnx.ModelProto:
    """(1, 84, N): cx, cy, w, h in input pixels, then class scores; no objectness."""
    s = _Surgery()
    boxes = s.node("Mul", [s.columns(0, 4), s.const(float(SIZE))])
    rows = s.node("Concat", [boxes, s.columns(5, 85)], axis=2)
    return s.finish({"output0": s.node("Transpose", [rows], perm=[0, 2, 1])}, ultralytics_metadata(names))


def end2end(names: tuple[str, ...]) -> onnx.ModelProto:
    """(1, K, 6): x1, y1, x2, y2 in input pixels, score, class, after an ONNX NonMaxSuppression per class over
    each row's best class (as exports with NMS inside do). For a batch of one."""
    s = _Surgery()
    centre, extent = (s.node("Mul", [s.columns(a, b), s.const(float(SIZE))]) for a, b in ((0, 2), (2, 4)))
    half = s.node("Mul", [extent, s.const(0.5)])
    corners = s.node("Concat", [s.node("Sub", [centre, half]), s.node("Add", [centre, half])], axis=2)
    scores = s.columns(5, 85)
    best = s.node("ReduceMax", [scores], axes=[2], keepdims=1)  # opset 17: axes is an attribute
    only_best = s.node("Mul", [scores, s.node("Cast", [s.node("Equal", [scores, best])], to=TensorProto.FLOAT)])
    by_class = s.node("Transpose", [only_best], perm=[0, 2, 1])
    selected = s.node(
        "NonMaxSuppression",
        [
            corners,
            by_class,
            s.const([4096]),
            s.const(np.array([E2E_IOU], dtype=np.float32)),
            s.const(np.array([E2E_SCORE], dtype=np.float32)),
        ],
    )
    class_column = s.node("Gather", [selected, s.const(np.int64(1))], axis=1)
    box_column = s.node("Gather", [selected, s.const(np.int64(2))], axis=1)
    chosen = s.node("Gather", [s.node("Squeeze", [corners, s.const([0])]), box_column], axis=0)
    score = s.node("GatherND", [by_class, selected])
    rows = s.node(
        "Concat",
        [
            chosen,
            s.node("Unsqueeze", [score, s.const([1])]),
            s.node("Unsqueeze", [s.node("Cast", [class_column], to=TensorProto.FLOAT), s.const([1])]),
        ],
        axis=1,
    )
    return s.finish({"output0": s.node("Unsqueeze", [rows, s.const([0])])}, ultralytics_metadata(names))


def rtdetr(names: tuple[str, ...]) -> onnx.ModelProto:
    """(1, N, 84): cx, cy, w, h relative to the input, then class scores (ultralytics' RT-DETR export)."""
    s = _Surgery()
    rows = s.node("Concat", [s.columns(0, 4), s.columns(5, 85)], axis=2)
    return s.finish({"output0": rows}, ultralytics_metadata(names))


def detr() -> onnx.ModelProto:
    """Input normalised with ImageNet's mean and std; outputs `pred_boxes` (1, N, 4) cx, cy, w, h relative to the
    input and `logits` (1, N, 80) whose sigmoid is the class score."""
    s = _Surgery()
    s.graph.input[0].name = "pixel_values"
    mean = s.const(np.asarray(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1))
    std = s.const(np.asarray(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1))
    s.graph.node.insert(0, helper.make_node("Add", [s.node("Mul", ["pixel_values", std]), mean], ["images"]))
    # The Mul was appended at the end: move it before the Add that needs it (nodes must be in order).
    s.graph.node.insert(0, s.graph.node.pop())
    p = s.node("Clip", [s.columns(5, 85), s.const(1e-7), s.const(1 - 1e-7)])
    logits = s.node("Log", [s.node("Div", [p, s.node("Sub", [s.const(1.0), p])])])
    return s.finish({"pred_boxes": s.columns(0, 4), "logits": logits})


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path
