"""The detector families a user brings as ONNX: how each one's input is made and its outputs read.

Every family ends in the same `Candidates` (boxes relative to the displayed image, best class, score), so the
thresholds, NMS, stored candidates and records are the same whatever the model:

| layout   | output                                                      | boxes               | preprocessing   |
|----------|-------------------------------------------------------------|---------------------|-----------------|
| darknet  | (B, N, 5 + C): cx, cy, w, h, objectness, obj × class prob   | relative to input   | stretch         |
| yolov5   | (B, N, 5 + C): cx, cy, w, h, objectness, class prob         | input pixels        | letterbox       |
| yolov8   | (B, 4 + C, N): cx, cy, w, h, class score (no objectness)    | input pixels        | letterbox       |
| end2end  | (B, K, 6): x1, y1, x2, y2, score, class (NMS inside/free)   | input pixels        | letterbox       |
| detr     | boxes (B, Q, 4) cx, cy, w, h + class logits (B, Q, C)       | relative to input   | stretch, ImageNet |
| rtdetr   | (B, Q, 4 + C): cx, cy, w, h, class score (ultralytics)      | relative to input   | stretch         |

Letterbox is ultralytics' (aspect kept, grey 114 padding split around the image); boxes go back through the
same scale and padding, so they land on the image the detector was given: the display orientation, since
`images.decode_bgr` applies EXIF orientation first.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np

Layout = Literal["darknet", "yolov5", "yolov8", "end2end", "detr", "rtdetr"]
Resize = Literal["stretch", "letterbox"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
RESIZES: tuple[str, ...] = get_args(Resize)
RGB = tuple[float, float, float]

#: The normalisation DETR-family models are trained with (ImageNet mean and std, on 0–1 RGB).
IMAGENET_MEAN: RGB = (0.485, 0.456, 0.406)
IMAGENET_STD: RGB = (0.229, 0.224, 0.225)
NO_MEAN: RGB = (0.0, 0.0, 0.0)
NO_STD: RGB = (1.0, 1.0, 1.0)
#: Ultralytics' letterbox padding value.
PAD_VALUE = 114


class LayoutError(ValueError):
    """The model's outputs do not fit its layout, or its layout cannot be told from the graph."""


@dataclass(frozen=True)
class Family:
    """A layout's preprocessing, unless the version overrides it."""

    resize: Resize
    mean: RGB = NO_MEAN
    std: RGB = NO_STD


FAMILIES: Mapping[str, Family] = {
    "darknet": Family("stretch"),
    "yolov5": Family("letterbox"),
    "yolov8": Family("letterbox"),
    "end2end": Family("letterbox"),
    "detr": Family("stretch", IMAGENET_MEAN, IMAGENET_STD),
    "rtdetr": Family("stretch"),
}


@dataclass(frozen=True)
class Placement:
    """Where an image sits in the square network input: input pixel = image pixel × scale + offset per axis;
    stretched images fill the input (boxes relative to the input are relative to the image)."""

    scale_x: float
    scale_y: float
    left: float = 0.0
    top: float = 0.0
    stretched: bool = False


@dataclass(frozen=True)
class Preprocess:
    """How images become the network's input: NCHW float32 RGB, (x / 255 - mean) / std."""

    size: int
    resize: Resize = "stretch"
    mean: RGB = NO_MEAN
    std: RGB = NO_STD

    def blob(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, list[Placement]]:
        """The input for BGR uint8 `images`, and where each image sits in it. Stretch is OpenCV's own
        preprocessing (resize INTER_LINEAR, BGR->RGB, /255), the reference the Darknet backends share."""
        size = (self.size, self.size)
        if self.resize == "letterbox":
            boxed = [letterbox(image, self.size) for image in images]
            blob = cv2.dnn.blobFromImages([image for image, _ in boxed], 1 / 255.0, size, swapRB=True, crop=False)
            placements = [placement for _, placement in boxed]
        else:
            blob = cv2.dnn.blobFromImages(list(images), 1 / 255.0, size, swapRB=True, crop=False)
            placements = [Placement(self.size / im.shape[1], self.size / im.shape[0], stretched=True) for im in images]
        if self.mean != NO_MEAN or self.std != NO_STD:
            mean = np.asarray(self.mean, np.float32).reshape(1, 3, 1, 1)
            std = np.asarray(self.std, np.float32).reshape(1, 3, 1, 1)
            blob = (blob - mean) / std
        return blob, placements


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, Placement]:
    """`image` scaled to fit a size × size square, aspect kept, centred on grey padding (ultralytics' LetterBox:
    the odd padding pixel goes to the bottom and right)."""
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = round(width * scale), round(height * scale)
    if (new_w, new_h) != (width, height):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_w, pad_h = (size - new_w) / 2, (size - new_h) / 2
    top, bottom = round(pad_h - 0.1), round(pad_h + 0.1)
    left, right = round(pad_w - 0.1), round(pad_w + 0.1)
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return padded, Placement(scale, scale, left, top)


@dataclass(frozen=True)
class Decoded:
    """One image's rows as the network saw them: `boxes` (n, 4) cx, cy, w, h relative to the network input, and
    each row's best class and its score."""

    boxes: np.ndarray
    class_ids: np.ndarray
    scores: np.ndarray

    def on_image(self, placement: Placement, size: int, width: int, height: int) -> np.ndarray:
        """The boxes relative to the image (cx, cy, w, h), undoing the resize and padding."""
        if placement.stretched:
            return self.boxes
        boxes = self.boxes.astype(np.float64) * size
        boxes[:, 0] = (boxes[:, 0] - placement.left) / placement.scale_x / width
        boxes[:, 1] = (boxes[:, 1] - placement.top) / placement.scale_y / height
        boxes[:, 2] /= placement.scale_x * width
        boxes[:, 3] /= placement.scale_y * height
        return boxes.astype(np.float32)


def _best(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    class_ids = scores.argmax(axis=1)
    return class_ids, scores[np.arange(len(scores)), class_ids]


def decode(layout: str, outputs: Sequence[np.ndarray], size: int) -> list[Decoded]:
    """Each image's rows from the batch's network outputs (see the table above)."""
    found = []
    for image in range(len(outputs[0])):
        if layout == "darknet":
            rows = outputs[0][image]
            boxes, (class_ids, scores) = rows[:, :4], _best(rows[:, 5:])
        elif layout == "yolov5":
            rows = outputs[0][image]
            boxes, (class_ids, scores) = rows[:, :4] / size, _best(rows[:, 5:] * rows[:, 4:5])
        elif layout == "yolov8":
            rows = outputs[0][image].T
            boxes, (class_ids, scores) = rows[:, :4] / size, _best(rows[:, 4:])
        elif layout == "end2end":
            rows = outputs[0][image]
            x1, y1, x2, y2 = (rows[:, i] / size for i in range(4))
            boxes = np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
            class_ids, scores = rows[:, 5].astype(np.int64), rows[:, 4]
        elif layout == "rtdetr":
            rows = outputs[0][image]
            boxes, (class_ids, scores) = rows[:, :4], _best(rows[:, 4:])
        elif layout == "detr":
            boxes_out, logits = detr_outputs(outputs)
            boxes = boxes_out[image]
            class_ids, scores = _best(1 / (1 + np.exp(-logits[image].astype(np.float64))))
        else:
            raise LayoutError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
        found.append(Decoded(boxes, class_ids, scores.astype(np.float32)))
    return found


def detr_outputs(outputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(boxes, logits) of a DETR-style model, in whichever order it gives them: the boxes have 4 columns."""
    if len(outputs) < 2:
        raise LayoutError("a detr layout needs two outputs: boxes (B, Q, 4) and class logits (B, Q, C)")
    first, second = outputs[0], outputs[1]
    return (first, second) if first.shape[-1] == 4 else (second, first)


def class_count(layout: str, outputs: Sequence[np.ndarray]) -> int:
    """How many classes the outputs score."""
    shape = outputs[0].shape
    if layout in ("darknet", "yolov5"):
        return shape[-1] - 5
    if layout == "yolov8":
        return shape[1] - 4
    if layout == "rtdetr":
        return shape[-1] - 4
    if layout == "detr":
        return detr_outputs(outputs)[1].shape[-1]
    return 0  # end2end: a class id per row, any number of classes


def detect_layout(outputs: Sequence[np.ndarray], metadata: Mapping[str, str], classes: int | None) -> str:
    """The layout of a model from the shapes of its outputs (for one input) and its metadata properties;
    `classes` is how many names it has, when known. Raises LayoutError when the graph alone cannot tell."""
    shapes = [tuple(output.shape) for output in outputs]
    if len(shapes) >= 2 and len(shapes[0]) == len(shapes[1]) == 3 and 4 in (shapes[0][-1], shapes[1][-1]):
        return "detr"
    if len(shapes) != 1 or len(shapes[0]) != 3:
        raise LayoutError(f"no known layout has outputs of shapes {shapes}")
    _, rows, columns = shapes[0]
    ultralytics = "stride" in metadata or "imgsz" in metadata
    if columns == 6 and classes != 1:
        return "end2end"
    if rows < columns and rows > 4:
        return "yolov8"
    if classes is not None and columns == 4 + classes and rows > columns:
        return "rtdetr"  # one column short of 5 + classes: no objectness
    if columns > 5 and rows > columns:
        return "yolov5" if ultralytics else "darknet"
    raise LayoutError(f"no known layout has an output of shape {shapes[0]}")


def _literal(metadata: Mapping[str, str], key: str) -> object:
    """A metadata property as the Python literal ultralytics writes it, else None."""
    try:
        return ast.literal_eval(metadata[key]) if key in metadata else None
    except (ValueError, SyntaxError):
        return None


def metadata_names(metadata: Mapping[str, str]) -> tuple[str, ...] | None:
    """The class names a model's metadata carries (ultralytics: `names` = "{0: 'person', …}"), else None."""
    value = _literal(metadata, "names")
    if isinstance(value, dict) and value and all(isinstance(key, int) and key >= 0 for key in value):
        # Class ids may skip numbers (COCO's 91 ids): the names sit at their ids, gaps get a placeholder.
        return tuple(str(value.get(index, f"class_{index}")) for index in range(max(value) + 1))
    if isinstance(value, list | tuple):
        return tuple(str(name) for name in value)
    return None


def metadata_size(metadata: Mapping[str, str]) -> int | None:
    """The square input size a model's metadata states (ultralytics: `imgsz` = "[640, 640]"), else None."""
    value = _literal(metadata, "imgsz")
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple) and len(value) == 2 and value[0] == value[1] and isinstance(value[0], int):
        return value[0]
    return None
