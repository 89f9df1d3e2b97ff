"""Converting a Darknet YOLO model (.cfg + .weights) to ONNX, once, for the onnxruntime backend.

No ONNX export of these weights can be downloaded, so we build the graph ourselves from the same two
files OpenCV reads. Supported: the layer types YOLOv4-tiny uses (convolutional with leaky/linear
activation, route with groups, maxpool, upsample, yolo). The yolo heads are decoded inside the graph
the way OpenCV's Darknet importer does, so the model outputs OpenCV's rows: (batch, rows, 5 + classes)
= cx, cy, w, h relative to the image, objectness, objectness * class probability.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from imgassets.detector.model_files import ModelFiles

# Bump when the generated graph changes, so cached models from older code are not reused.
CONVERTER_VERSION = 1
OPSET = 17
INPUT_NAME = "images"
OUTPUT_NAME = "rows"
# The batch-norm epsilon of OpenCV's Darknet importer (checked on its outputs: 1e-5 gives ~20x larger
# differences), so our rows match the reference backend's.
_BN_EPSILON = 1e-6
# OpenCV's yolo layer zeroes class scores (objectness * probability) not above 0.2 (checked on its outputs).
_CLASS_SCORE_FLOOR = 0.2


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "imgassets"


def cached_onnx_model(files: ModelFiles, input_size: int, cache_dir: Path | None = None) -> Path:
    """The converted model's path, converting on first use only.

    The name is keyed by the weights' sha256, the cfg's content, the input size and the converter
    version; it is written through a temporary file and renamed, so concurrent processes are safe.
    """
    cfg = files.cfg
    if cfg is None:
        raise ValueError(f"{files.weights} is not a Darknet model (no .cfg)")
    key = hashlib.sha256(
        f"{files.weights_sha256}:{input_size}:{CONVERTER_VERSION}:".encode() + cfg.read_bytes()
    ).hexdigest()[:16]
    directory = cache_dir or default_cache_dir()
    path = directory / f"{cfg.stem}-{input_size}-{key}.onnx"
    if not path.is_file():
        directory.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(convert(cfg, files.weights, input_size).SerializeToString())
        os.replace(partial, path)
    return path


def parse_cfg(path: Path) -> list[dict[str, str]]:
    """Darknet cfg sections in order, each a dict of its options plus `type` (e.g. "convolutional")."""
    sections: list[dict[str, str]] = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            sections.append({"type": line.strip("[]").strip()})
        elif "=" in line:
            name, value = line.split("=", 1)
            sections[-1][name.strip()] = value.strip()
    return sections


def read_weights(path: Path) -> np.ndarray:
    """The float32 parameters after the header (major, minor, revision, then `seen` as int64 from 0.2)."""
    with path.open("rb") as handle:
        major, minor, _ = np.fromfile(handle, dtype=np.int32, count=3)
        np.fromfile(handle, dtype=np.int64 if major * 10 + minor >= 2 else np.int32, count=1)
        return np.fromfile(handle, dtype=np.float32)


def convert(cfg: Path, weights: Path, input_size: int) -> onnx.ModelProto:
    """The ONNX model for an NCHW float32 input of (batch, 3, input_size, input_size), batch dynamic."""
    sections = parse_cfg(cfg)
    if sections[0]["type"] not in ("net", "network"):
        raise ValueError(f"{cfg}: the first section must be [net]")
    builder = _GraphBuilder(read_weights(weights), input_size)
    channels = int(sections[0].get("channels", 3))
    builder.run(sections[1:], channels)
    if builder.offset != len(builder.weights):
        raise ValueError(f"{weights}: {len(builder.weights) - builder.offset} parameters left over; cfg mismatch?")
    graph = helper.make_graph(
        builder.nodes,
        "darknet",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", channels, input_size, input_size])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", builder.rows, builder.columns])],
        builder.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="imgassets")
    onnx.checker.check_model(model)
    return model


class _GraphBuilder:
    """Walks the cfg sections, consuming the weights in order and appending ONNX nodes."""

    def __init__(self, weights: np.ndarray, input_size: int) -> None:
        self.weights = weights
        self.offset = 0
        self.input_size = input_size
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.rows = self.columns = 0  # of the output, filled in by the yolo heads
        self._names = 0

    def run(self, sections: list[dict[str, str]], channels: int) -> None:
        # Per layer: (tensor name, channels, spatial size); routes index into this list.
        layers: list[tuple[str, int, int]] = []
        current = (INPUT_NAME, channels, self.input_size)
        heads: list[str] = []
        for index, section in enumerate(sections):
            kind = section["type"]
            if kind == "convolutional":
                current = self._convolutional(section, current)
            elif kind == "maxpool":
                current = self._maxpool(section, current)
            elif kind == "upsample":
                stride = int(section.get("stride", 2))
                scales = self._constant(np.array([1, 1, stride, stride], dtype=np.float32))
                name = self._node(
                    "Resize",
                    [current[0], "", scales],
                    mode="nearest",
                    coordinate_transformation_mode="asymmetric",
                    nearest_mode="floor",
                )
                current = (name, current[1], current[2] * stride)
            elif kind == "route":
                indices = [int(i) for i in section["layers"].split(",")]
                current = self._route(section, [layers[i if i >= 0 else index + i] for i in indices])
            elif kind == "yolo":
                heads.append(self._yolo(section, current))
            else:
                raise ValueError(f"unsupported Darknet layer [{kind}]")
            layers.append(current)
        self._node("Concat", heads, axis=1, output=OUTPUT_NAME)

    def _convolutional(self, section: dict[str, str], source: tuple[str, int, int]) -> tuple[str, int, int]:
        """Conv with batch norm folded in: w' = w * gamma / sqrt(var + eps), b' = beta - mean * that."""
        name, in_channels, size = source
        filters, kernel, stride = int(section["filters"]), int(section["size"]), int(section.get("stride", 1))
        pad = kernel // 2 if int(section.get("pad", 0)) else int(section.get("padding", 0))
        bias = self._take(filters)
        if int(section.get("batch_normalize", 0)):
            gamma, mean, var = self._take(filters), self._take(filters), self._take(filters)
            factor = gamma / np.sqrt(var + _BN_EPSILON)
        else:
            factor, mean = np.ones(filters, np.float32), np.zeros(filters, np.float32)
        weight = self._take(filters * in_channels * kernel * kernel).reshape(filters, in_channels, kernel, kernel)
        output = self._node(
            "Conv",
            [name, self._constant(weight * factor[:, None, None, None]), self._constant(bias - mean * factor)],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad] * 4,
        )
        activation = section.get("activation", "linear")
        if activation == "leaky":
            output = self._node("LeakyRelu", [output], alpha=0.1)
        elif activation != "linear":
            raise ValueError(f"unsupported activation {activation!r}")
        return output, filters, (size + 2 * pad - kernel) // stride + 1

    def _maxpool(self, section: dict[str, str], source: tuple[str, int, int]) -> tuple[str, int, int]:
        """Darknet pads `size - 1` in total (left/top gets half), giving (size + pad - k) // stride + 1."""
        name, channels, size = source
        kernel = int(section["size"])
        stride = int(section.get("stride", kernel))
        pad = int(section.get("padding", kernel - 1))
        output = self._node(
            "MaxPool",
            [name],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[pad // 2, pad // 2, pad - pad // 2, pad - pad // 2],
        )
        return output, channels, (size + pad - kernel) // stride + 1

    def _route(self, section: dict[str, str], sources: list[tuple[str, int, int]]) -> tuple[str, int, int]:
        """Concatenates the sources on channels, then keeps group `group_id` of `groups` equal parts."""
        channels = sum(source[1] for source in sources)
        name = sources[0][0] if len(sources) == 1 else self._node("Concat", [s[0] for s in sources], axis=1)
        groups, group = int(section.get("groups", 1)), int(section.get("group_id", 0))
        if groups > 1:
            channels //= groups
            bounds = [self._constant(np.array([v], np.int64)) for v in (group * channels, (group + 1) * channels, 1)]
            name = self._node("Slice", [name, *bounds])
        return name, channels, sources[0][2]

    def _yolo(self, section: dict[str, str], source: tuple[str, int, int]) -> str:
        """Decodes one head to rows ordered (cell row, cell column, anchor), as OpenCV does.

        x = (sigmoid(tx) * s - (s - 1) / 2 + column) / grid, likewise y; w = exp(tw) * anchor_w / input;
        objectness = sigmoid(to); class score = objectness * sigmoid(tc), zeroed when <= 0.2.
        """
        name, channels, grid = source
        mask = [int(v) for v in section["mask"].split(",")]
        anchors = np.array([float(v) for v in section["anchors"].split(",")], np.float32).reshape(-1, 2)[mask]
        scale = float(section.get("scale_x_y", 1.0))
        per_anchor = channels // len(mask)
        rows = grid * grid * len(mask)
        self.rows += rows
        self.columns = per_anchor
        # (N, A*K, H, W) -> (N, A, K, H*W) -> (N, H*W, A, K) -> (N, rows, K)
        raw = self._node("Reshape", [name, self._constant(np.array([0, len(mask), per_anchor, grid * grid], np.int64))])
        raw = self._node("Transpose", [raw], perm=[0, 3, 1, 2])
        raw = self._node("Reshape", [raw, self._constant(np.array([0, rows, per_anchor], np.int64))])
        sigmoid = self._node("Sigmoid", [raw])

        cells = np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), axis=-1).reshape(-1, 1, 2)  # (x, y)
        offsets = np.broadcast_to((cells - (scale - 1) / 2) / grid, (grid * grid, len(mask), 2)).reshape(rows, 2)
        sizes = np.broadcast_to(anchors / self.input_size, (grid * grid, len(mask), 2)).reshape(rows, 2)

        centers = self._node("Mul", [self._slice(sigmoid, 0, 2), self._constant(np.float32(scale / grid))])
        centers = self._node("Add", [centers, self._constant(offsets.astype(np.float32))])
        extents = self._node(
            "Mul", [self._node("Exp", [self._slice(raw, 2, 4)]), self._constant(sizes.astype(np.float32))]
        )
        objectness = self._slice(sigmoid, 4, 5)
        scores = self._node("Mul", [self._slice(sigmoid, 5, per_anchor), objectness])
        floor = self._constant(np.float32(_CLASS_SCORE_FLOOR))
        scores = self._node("Where", [self._node("Greater", [scores, floor]), scores, self._constant(np.float32(0))])
        return self._node("Concat", [centers, extents, objectness, scores], axis=2)

    def _slice(self, name: str, start: int, end: int) -> str:
        bounds = [self._constant(np.array([v], np.int64)) for v in (start, end, 2)]
        return self._node("Slice", [name, *bounds])

    def _take(self, count: int) -> np.ndarray:
        if self.offset + count > len(self.weights):
            raise ValueError("the weights file is shorter than the cfg needs")
        values = self.weights[self.offset : self.offset + count]
        self.offset += count
        return values

    def _fresh(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}_{self._names}"

    def _constant(self, value: np.ndarray | np.generic) -> str:
        name = self._fresh("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def _node(self, op: str, inputs: list[str], output: str | None = None, **attributes: Any) -> str:
        output = output or self._fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output
