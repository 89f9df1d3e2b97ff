"""INT8 static quantisation of a Darknet-converted YOLO model (darknet_onnx) with ONNX Runtime, for the `int8`
detector version.

The result is a QDQ model: int8 weights with a scale per output channel, uint8 activations with one scale per
tensor, which ONNX Runtime's CPU provider runs as QLinearConv / QLinearLeakyRelu / QLinearConcat (VNNI where the
CPU has it). Each choice below was measured on YOLOv4-tiny at 416 against the fp32 model on the bench photos
(200 `bench_photos.synthetic_photos` and data/photos; `python -m imgassets.devtools.quantize_bench`): the detections'
precision / recall (same class, IoU >= 0.5, confidence 0.5, NMS 0.4), and the mean class-score difference on the
rows either model scores above 0.3, which moves less by chance (a detection more or less moves recall by 0.002).
The calibration photos are other photos (calibration/, see its ATTRIBUTION.md), so agreement is not measured
on them; calibrating on the bench photos themselves did not agree better (recall 0.957 against 0.968).

* Float: the yolo decoding after the last convolutions (one uint8 scale for box, objectness and class columns
  ruins them) with the two head convolutions (their logits go through sigmoid and exp), and the first two
  convolutions (the widest activations, most uneven across channels; 7% of the work, no measurable cost). Recall
  with everything quantised 0.89-0.90; decoding float 0.92-0.94; heads too 0.95; the first two too 0.96.
* A convolution's output into a LeakyRelu gets the rmin that minimises the squared error after the activation
  (below zero it counts alpha = 0.1 times): clipping a negative tail costs little there, while the calibration
  minimum (-50 against a maximum of +30 on the first layers) wastes most of the 256 levels. Score difference
  0.053 -> 0.048. The rmax stays the calibration maximum: clipping the largest activations, the objects' evidence,
  lowers the scores (MSE ranges for every tensor 0.058, percentile 99.99 of the maximum: recall 0.90). The
  LeakyRelu's output range follows: (alpha * rmin, rmax).
* The inputs of a Concat share its range, so QLinearConcat does not round them again: 0.041 -> 0.036.
* Elsewhere ONNX Runtime's MinMax calibration: Entropy, Percentile and Distribution calibration scored lower
  (recall 0.86-0.95), as did ranges widened by a margin; so did equalising channel ranges across layers, one
  scale for a convolution and its LeakyRelu, and MSE-clipped weights.

Result (2 cores with AVX-512 VNNI, ONNX Runtime 1.32): precision 0.969 and recall 0.971 on 200 bench photos
(0.977 and 0.974 on 600), 2.4 times the fp32 images/s, a 6.5 MiB model made in 5 s. The same inputs give the
same bytes (imgassets_tests/test_quantize.py checks the sha256 of two runs), whatever the number of cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)

from imgassets.detector.darknet_onnx import cached_onnx_model, default_cache_dir
from imgassets.detector.layouts import FAMILIES, Preprocess
from imgassets.detector.model_files import ModelFiles

# Bump when the quantised graph changes for the same inputs, so cached models from older code are not reused.
QUANTIZER_VERSION = 1
#: Shipped with the package, so the code image can quantise when it is built (see its ATTRIBUTION.md).
CALIBRATION_DIR = Path(__file__).with_name("calibration")
#: Convolutions kept float from the input on, with their activations.
FLOAT_STEM_CONVS = 2
# Every 7th value of a convolution's output feeds its rmin search (a histogram of 4096 bins, 128 candidates).
_SAMPLE_STRIDE = 7
_BINS = 4096
_CANDIDATES = 128
_LEVELS = 255  # uint8


def calibration_photos(directory: Path = CALIBRATION_DIR) -> list[Path]:
    """The calibration photos (JPEGs) in `directory`, in name order; FileNotFoundError when there are none."""
    photos = sorted(directory.glob("*.jpg"))
    if not photos:
        raise FileNotFoundError(f"no calibration photos (*.jpg) in {directory}")
    return photos


def calibration_images(photos: Sequence[Path]) -> list[np.ndarray]:
    """Each photo (BGR) as it is, mirrored, cropped to 75% at each corner and in the centre, and its centre half
    enlarged twice (objects larger than the photos show them): 8 per photo."""
    images = []
    for path in photos:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"cannot read calibration photo {path}")
        height, width = image.shape[:2]
        crop_h, crop_w = height * 3 // 4, width * 3 // 4
        corners = [(0, 0), (0, width - crop_w), (height - crop_h, 0), (height - crop_h, width - crop_w)]
        corners.append(((height - crop_h) // 2, (width - crop_w) // 2))
        images += [image, cv2.flip(image, 1)]
        images += [np.ascontiguousarray(image[y : y + crop_h, x : x + crop_w]) for y, x in corners]
        centre = image[height // 4 : height // 4 + height // 2, width // 4 : width // 4 + width // 2]
        images.append(cv2.resize(centre, (2 * centre.shape[1], 2 * centre.shape[0]), interpolation=cv2.INTER_LINEAR))
    return images


class PhotoReader(CalibrationDataReader):
    """The network's input for each image, one image at a time, made as the detector makes it (the darknet
    layout's preprocessing: stretch to the input size, RGB, / 255)."""

    def __init__(self, images: Sequence[np.ndarray], input_name: str, input_size: int) -> None:
        family = FAMILIES["darknet"]
        preprocess = Preprocess(input_size, family.resize, family.mean, family.std)
        self._inputs = ({input_name: preprocess.blob([image])[0]} for image in images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._inputs, None)


def cached_int8_model(
    files: ModelFiles, input_size: int, cache_dir: Path | None = None, photos: Sequence[Path] | None = None
) -> Path:
    """The int8 model of `files` at `input_size`, quantised on first use only (calibrated on `photos`, by default
    calibration/). The name is keyed by the fp32 model's name (weights, cfg, input size, converter), the
    calibration photos' contents, this quantiser's and ONNX Runtime's versions."""
    fp32 = cached_onnx_model(files, input_size, cache_dir)
    photos = calibration_photos() if photos is None else photos
    digest = hashlib.sha256(f"{QUANTIZER_VERSION}:{ort.__version__}:".encode())
    for photo in photos:
        digest.update(hashlib.sha256(photo.read_bytes()).digest())
    path = (cache_dir or default_cache_dir()) / f"{fp32.stem}-int8-{digest.hexdigest()[:16]}.onnx"
    return path if path.is_file() else quantize_int8(fp32, path, photos, input_size)


def quantize_int8(fp32_model: Path, out: Path, photos: Sequence[Path], input_size: int = 416) -> Path:
    """Writes the int8 QDQ model of `fp32_model` (a darknet_onnx model), calibrated on `photos`, to `out` (through
    a temporary file and a rename) and returns `out`. The same inputs give the same bytes."""
    if not photos:
        raise ValueError("quantisation needs calibration photos")
    model = onnx.load(str(fp32_model))
    for node in model.graph.node:  # names for nodes_to_exclude; the converter leaves them empty
        node.name = node.name or node.output[0]
    images = calibration_images(photos)
    input_name = model.graph.input[0].name
    float_nodes = _float_nodes(model)
    overrides = _range_overrides(model, float_nodes, images, input_name, input_size)
    helper.set_model_props(
        model,
        {
            "imgassets_quantizer": str(QUANTIZER_VERSION),
            "imgassets_onnxruntime": ort.__version__,
            "imgassets_source_sha256": hashlib.sha256(fp32_model.read_bytes()).hexdigest(),
            "imgassets_calibration": ",".join(photo.name for photo in photos),
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f"{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        with _without_preprocess_hint():
            quantize_static(
                model,
                partial,
                PhotoReader(images, input_name, input_size),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=float_nodes,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options={"TensorQuantOverrides": overrides},
            )
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _consumers(model: onnx.ModelProto) -> dict[str, list[onnx.NodeProto]]:
    found: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def _float_nodes(model: onnx.ModelProto) -> list[str]:
    """The nodes left float: every node with no convolution after it (the yolo decoding and the head
    convolutions), and the first FLOAT_STEM_CONVS convolutions with their activations."""
    consumers = _consumers(model)
    feeds_conv: dict[str, bool] = {}
    for node in reversed(model.graph.node):  # topological order: consumers are decided first
        feeds_conv[node.name] = any(
            after.op_type == "Conv" or feeds_conv.get(after.name, False)
            for output in node.output
            for after in consumers.get(output, [])
        )
    tail = [node.name for node in model.graph.node if not feeds_conv[node.name]]
    stem = [node for node in model.graph.node if node.op_type == "Conv"][:FLOAT_STEM_CONVS]
    activations = [after.name for conv in stem for after in consumers[conv.output[0]] if after.op_type == "LeakyRelu"]
    return tail + [conv.name for conv in stem] + activations


def _range_overrides(
    model: onnx.ModelProto, float_nodes: Sequence[str], images: Sequence[np.ndarray], input_name: str, size: int
) -> dict[str, list[dict[str, np.float32]]]:
    """TensorQuantOverrides: the ranges of the quantised convolutions' outputs into a LeakyRelu, of those
    activations, and of the Concats' inputs and outputs (see the module docstring)."""
    consumers = _consumers(model)
    skip = set(float_nodes)
    activation = {}  # conv output -> (LeakyRelu output, alpha)
    for node in model.graph.node:
        users = consumers.get(node.output[0], [])
        if node.op_type == "Conv" and node.name not in skip and len(users) == 1 and users[0].op_type == "LeakyRelu":
            alpha = next((helper.get_attribute_value(a) for a in users[0].attribute if a.name == "alpha"), 0.01)
            activation[node.output[0]] = (users[0].output[0], float(alpha))
    groups = _concat_groups(model, skip)
    concat_outputs = {node.output[0] for node in model.graph.node if node.op_type == "Concat"}
    derived = {leaky for leaky, _ in activation.values()}
    observed = sorted({t for group in groups for t in group} - derived - concat_outputs)
    low, high, samples = _statistics(model, [*activation, *observed], list(activation), images, input_name, size)

    ranges = {t: (low[t], high[t]) for t in observed}
    for conv, (leaky, alpha) in activation.items():
        rmin = _conv_rmin(samples[conv], low[conv], high[conv], alpha)
        ranges[conv] = (rmin, high[conv])
        ranges[leaky] = (alpha * rmin, high[conv])
    for group in groups:  # a Concat's range is its inputs' union
        members = [ranges[t] for t in group if t not in concat_outputs]
        ranges.update(dict.fromkeys(group, (min(lo for lo, _ in members), max(hi for _, hi in members))))
    return {t: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}] for t, (lo, hi) in sorted(ranges.items())}


def _concat_groups(model: onnx.ModelProto, skip: set[str]) -> list[set[str]]:
    """Tensors joined by quantised Concats (inputs and output), as sets."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.get(name, name) != name:
            name = parent[name]
        return name

    for node in model.graph.node:
        if node.op_type == "Concat" and node.name not in skip:
            for name in node.input:
                parent[root(name)] = root(node.output[0])
    groups: dict[str, set[str]] = {}
    for name in parent:
        groups.setdefault(root(name), {root(name)}).add(name)
    return [groups[key] for key in sorted(groups)]


def _statistics(
    model: onnx.ModelProto,
    tensors: Sequence[str],
    sampled: Sequence[str],
    images: Sequence[np.ndarray],
    input_name: str,
    size: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, np.ndarray]]:
    """Per tensor its minimum and maximum over the images, and for the `sampled` ones every _SAMPLE_STRIDE-th
    value. One thread, so the figures do not depend on the machine's cores."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    probe.graph.output.extend(helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in tensors)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    low = dict.fromkeys(tensors, np.inf)
    high = dict.fromkeys(tensors, -np.inf)
    parts: dict[str, list[np.ndarray]] = {t: [] for t in sampled}
    for feed in iter(PhotoReader(images, input_name, size).get_next, None):
        for name, value in zip(tensors, session.run(list(tensors), feed), strict=True):
            low[name] = min(low[name], float(value.min()))
            high[name] = max(high[name], float(value.max()))
            if name in parts:
                parts[name].append(value.ravel()[::_SAMPLE_STRIDE])
    return low, high, {name: np.concatenate(values) for name, values in parts.items()}


def _conv_rmin(values: np.ndarray, low: float, high: float, alpha: float) -> float:
    """The rmin (rmax = `high`) minimising the expected squared error after LeakyRelu(alpha) of a uint8 tensor
    over [rmin, high]: rounding costs step² / 12 (times alpha² below zero), clipping below rmin (alpha (x - rmin))²."""
    if low >= 0:
        return 0.0
    counts, edges = np.histogram(values, bins=_BINS, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weights = counts / counts.sum()
    candidates = np.linspace(low / _CANDIDATES, low, _CANDIDATES)[:, None]
    rounding = ((high - candidates) / _LEVELS) ** 2 / 12 * np.where(centres < 0, alpha**2, 1.0)
    clipping = np.where(centres < candidates, (alpha * (centres - candidates)) ** 2, 0.0)
    return float(candidates[int(np.argmin((rounding + clipping) @ weights)), 0])


@contextlib.contextmanager
def _without_preprocess_hint() -> Iterator[None]:
    """Hides quantize_static's root-logger hint to run its pre-processing (symbolic shape inference, for
    transformer graphs): this graph's shapes are all static and ONNX's shape inference, which it runs, infers them."""

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)
