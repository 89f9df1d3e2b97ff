"""Every model layout a user may bring gives the native path's detections (real YOLOv4-tiny weights, real photos),
letterboxed boxes land where an independent computation puts them, and names and sizes come from metadata."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgassets.core import images
from imgassets.core.records import Detection
from imgassets.detector import Detector, ModelFiles, ModelOptions, darknet_onnx, find_model_files, load_detector
from imgassets.detector.base import RowsDetector
from imgassets.detector.layouts import PAD_VALUE, Decoded, LayoutError, detect_layout, letterbox, metadata_names
from imgassets.detector.onnx_backend import inspect_model
from imgassets_tests import layout_models
from imgassets_tests.conftest import PHOTOS, THRESHOLDS, read_image

PHOTO_NAMES = ["dog.jpg", "person.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg"]
LABELS = find_model_files().labels


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [read_image(PHOTOS / name) for name in PHOTO_NAMES]


@pytest.fixture(scope="module")
def native() -> Detector:
    return load_detector("onnx", 416)


def seen(detections: list[Detection]) -> list[tuple[str, int, int, int, int, float]]:
    return [(d.label, d.box.x, d.box.y, d.box.w, d.box.h, d.confidence) for d in detections]


def from_model(model: onnx.ModelProto, path: Path, names: Path | None, **options: object) -> Detector:
    """A detector on a surgery model; layout and everything else told from the graph unless given."""
    files = ModelFiles(cfg=None, weights=layout_models.save(model, path), names=names)
    return load_detector("onnx", 416, files=files, model=ModelOptions(**options))  # type: ignore[arg-type]


SURGERY: dict[str, Callable[[], onnx.ModelProto]] = {
    "yolov5": lambda: layout_models.yolov5(LABELS),
    "yolov8": lambda: layout_models.yolov8(LABELS),
    "end2end": lambda: layout_models.end2end(LABELS),
    "detr": layout_models.detr,
    "rtdetr": lambda: layout_models.rtdetr(LABELS),
}


@pytest.mark.parametrize("layout", SURGERY)
def test_each_layout_gives_the_native_detections(layout: str, photos, native, tmp_path: Path) -> None:
    # The surgery models are YOLOv4-tiny, trained on stretched input: read them with its preprocessing.
    detector = from_model(SURGERY[layout](), tmp_path / f"{layout}.onnx", find_model_files().names, resize="stretch")
    assert detector.layout == layout  # told from the outputs and the metadata, not stated
    expected = [native.detect([photo], THRESHOLDS)[0] for photo in photos]
    assert sum(map(len, expected)) >= 10
    for photo, wanted in zip(photos, expected, strict=True):
        found = detector.detect([photo], THRESHOLDS)[0]
        assert [d.label for d in found] == [d.label for d in wanted]
        for a, b in zip(found, wanted, strict=True):
            assert max(abs(u - v) for u, v in zip(seen([a])[0][1:5], seen([b])[0][1:5], strict=True)) <= 1
            assert abs(a.confidence - b.confidence) <= 2e-4


def test_names_and_size_come_from_metadata(tmp_path: Path) -> None:
    path = layout_models.save(layout_models.yolov8(LABELS), tmp_path / "v8.onnx")
    files = ModelFiles(cfg=None, weights=path, names=None)
    assert files.labels == LABELS
    info = inspect_model(path, 640)
    assert (info.layout, info.input_size, info.classes) == ("yolov8", 416, 80)
    assert info.metadata["stride"] == "32"


def test_a_model_of_another_size_than_the_version_says_is_refused(tmp_path: Path) -> None:
    files = ModelFiles(None, layout_models.save(layout_models.yolov8(LABELS), tmp_path / "v8.onnx"), None)
    with pytest.raises(LayoutError, match="takes 416x416 images; set input_size = 416"):
        load_detector("onnx", 640, files=files)


def test_a_names_file_of_another_length_is_refused(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("\n".join(LABELS[:79]))
    with pytest.raises(LayoutError, match="scores 80 classes .* but has 79 names"):
        from_model(layout_models.yolov8(LABELS), tmp_path / "v8.onnx", names)


def test_a_model_without_names_needs_a_names_file(tmp_path: Path) -> None:
    files = ModelFiles(None, layout_models.save(layout_models.detr(), tmp_path / "detr.onnx"), None)
    with pytest.raises(Exception, match="carries no class names in its metadata: give a names file"):
        _ = files.labels


def test_letterboxed_boxes_land_where_an_independent_computation_puts_them(photos) -> None:
    """The converted model read with letterbox on an 832 × 624 photo against the native stretch path on the same
    photo centred on an 832 × 832 grey canvas: at a scale of exactly ½ both give the network the same pixels,
    so the canvas boxes, shifted up by the canvas padding (104 px), are the letterbox path's boxes."""
    photo = cv2.resize(photos[2], (832, 624), interpolation=cv2.INTER_AREA)
    canvas = cv2.copyMakeBorder(photo, 104, 104, 0, 0, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    files = ModelFiles(None, darknet_onnx.cached_onnx_model(find_model_files(), 416), find_model_files().names)
    boxed = load_detector("onnx", 416, files=files, model=ModelOptions(layout="darknet", resize="letterbox"))
    stretched = load_detector("onnx", 416, files=files)
    assert isinstance(boxed, RowsDetector) and isinstance(stretched, RowsDetector)
    assert np.array_equal(boxed.blob([photo]), stretched.blob([canvas]))
    expected = [(d.label, d.box.x, d.box.y - 104, d.box.w, d.box.h) for d in stretched.detect([canvas], THRESHOLDS)[0]]
    found = [(d.label, d.box.x, d.box.y, d.box.w, d.box.h) for d in boxed.detect([photo], THRESHOLDS)[0]]
    assert len(found) >= 2 and len(found) == len(expected)
    for a, b in zip(found, expected, strict=True):
        assert a[0] == b[0] and max(abs(u - v) for u, v in zip(a[1:], b[1:], strict=True)) <= 1


def test_letterboxed_boxes_follow_the_exif_orientation(photos, tmp_path: Path) -> None:
    """A photo stored turned and tagged to be shown upright gives the upright photo's boxes."""
    upright = photos[1]
    turned = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # stored so, shown turned back (orientation 6)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = io.BytesIO()
    Image.fromarray(cv2.cvtColor(turned, cv2.COLOR_BGR2RGB)).save(stored, format="PNG", exif=exif)
    shown = images.decode_bgr(stored.getvalue())
    assert np.array_equal(shown, upright)
    files = ModelFiles(None, layout_models.save(layout_models.yolov8(LABELS), tmp_path / "v8.onnx"), None)
    detector = load_detector("onnx", 416, files=files)
    assert detector.layout == "yolov8" and detector.preprocess.resize == "letterbox"  # type: ignore[attr-defined]
    found = detector.detect([shown], THRESHOLDS)[0]
    assert found and seen(found) == seen(detector.detect([upright], THRESHOLDS)[0])
    assert all(d.box.x + d.box.w <= upright.shape[1] and d.box.y + d.box.h <= upright.shape[0] for d in found)


@settings(max_examples=200, deadline=None)
@given(
    width=st.integers(8, 4000),
    height=st.integers(8, 4000),
    box=st.tuples(*(st.floats(0.0, 1.0) for _ in range(4))),
)
def test_letterbox_mapping_inverts_the_letterbox(width: int, height: int, box: tuple[float, ...]) -> None:
    """A box drawn on the image, carried into the letterboxed input by the image's own scale and padding
    (computed here from the sizes alone), comes back to where it was drawn."""
    size = 416
    _, placement = letterbox(np.zeros((height, width, 3), np.uint8), size)
    scale = min(size / width, size / height)
    left = round((size - round(width * scale)) / 2 - 0.1)
    top = round((size - round(height * scale)) / 2 - 0.1)
    cx, cy, w, h = box[0] * width, box[1] * height, box[2] * width, box[3] * height
    on_input = np.array([[(cx * scale + left) / size, (cy * scale + top) / size, w * scale / size, h * scale / size]])
    decoded = Decoded(on_input.astype(np.float32), np.zeros(1, np.int64), np.ones(1, np.float32))
    back = decoded.on_image(placement, size, width, height)[0]
    assert np.allclose(back, box, atol=2e-4)


def test_layouts_are_told_from_output_shapes() -> None:
    def outputs(*shapes: tuple[int, ...]) -> list[np.ndarray]:
        return [np.zeros(shape, np.float32) for shape in shapes]

    ultralytics = {"stride": "32", "imgsz": "[640, 640]"}
    assert detect_layout(outputs((1, 2535, 85)), {}, 80) == "darknet"
    assert detect_layout(outputs((1, 25200, 85)), ultralytics, 80) == "yolov5"
    assert detect_layout(outputs((1, 84, 8400)), ultralytics, 80) == "yolov8"
    assert detect_layout(outputs((1, 300, 6)), ultralytics, 80) == "end2end"
    assert detect_layout(outputs((1, 300, 91), (1, 300, 4)), {}, 91) == "detr"
    assert detect_layout(outputs((1, 300, 84)), ultralytics, 80) == "rtdetr"
    with pytest.raises(LayoutError, match="no known layout"):
        detect_layout(outputs((1, 1000)), {}, 80)


def test_metadata_names_read_ultralytics_and_lists() -> None:
    assert metadata_names({"names": "{0: 'person', 1: 'bicycle'}"}) == ("person", "bicycle")
    assert metadata_names({"names": "['a', 'b']"}) == ("a", "b")
    assert metadata_names({"names": "{1: 'person', 3: 'car'}"}) == ("class_0", "person", "class_2", "car")
    assert metadata_names({"names": "not python"}) is None
    assert metadata_names({}) is None
