"""The detector on real photos with the real YOLOv4-tiny weights, against an independent OpenCV run."""

from typing import Any

import cv2
import pytest

from imgassets.detector import find_model_files, load_detector
from imgassets.detector.base import RowsDetector
from imgassets_tests.conftest import PHOTOS, THRESHOLDS, read_image

WEIGHTS_SHA256 = "cf9fbfd0f6d4869b35762f56100f50ed05268084078805f0e7989efe5bb8ca87"


@pytest.fixture(scope="module")
def detector():
    return load_detector("opencv", 416)


def test_model_files_are_the_known_weights() -> None:
    files = find_model_files()
    assert files.weights_sha256 == WEIGHTS_SHA256
    assert len(files.labels) == 80 and files.labels[16] == "dog"


@pytest.mark.parametrize(
    "photo, expected",
    [
        ("dog.jpg", {"dog", "bicycle", "truck"}),
        ("person.jpg", {"person", "dog", "horse"}),
        ("giraffe.jpg", {"giraffe", "zebra"}),
        ("eagle.jpg", {"bird"}),
    ],
)
def test_finds_the_objects_in_real_photos(detector, photo: str, expected: set[str]) -> None:
    image = cv2.imread(str(PHOTOS / photo))
    labels = {d.label for d in detector.detect([image], THRESHOLDS)[0]}
    assert labels == expected


@pytest.mark.parametrize("photo", ["dog.jpg", "person.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg"])
def test_matches_an_independent_opencv_detection_model(detector, photo: str) -> None:
    """cv2.dnn_DetectionModel does its own pre/post-processing: same boxes (±2 px) and scores."""
    files = find_model_files()
    reference = cv2.dnn.DetectionModel(cv2.dnn.readNetFromDarknet(str(files.cfg), str(files.weights)))
    reference.setInputParams(scale=1 / 255.0, size=(416, 416), swapRB=True)
    image = read_image(PHOTOS / photo)
    class_ids, scores, boxes = reference.detect(image, confThreshold=0.5, nmsThreshold=0.4)
    expected = sorted(
        (files.labels[int(c)], round(float(s), 3), tuple(int(v) for v in b))
        for c, s, b in zip(class_ids, scores, boxes, strict=False)
    )
    ours = sorted(
        (d.label, round(d.confidence, 3), (d.box.x, d.box.y, d.box.w, d.box.h))
        for d in detector.detect([image], THRESHOLDS)[0]
    )
    assert [e[0] for e in expected] == [o[0] for o in ours]
    height, width = image.shape[:2]
    for (_, exp_score, exp_box), (_, our_score, our_box) in zip(expected, ours, strict=False):
        assert our_score == pytest.approx(exp_score, abs=2e-3)
        # DetectionModel clamps a box's corner to the image without shortening it; we clip exactly.
        assert _iou(our_box, _clip(exp_box, width, height)) > 0.95


def _clip(box: tuple[int, ...], width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0 = max(0, box[0]), max(0, box[1])
    x1, y1 = min(width, box[0] + box[2]), min(height, box[1] + box[3])
    return x0, y0, x1 - x0, y1 - y0


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_batches_give_the_same_result_as_single_images(detector) -> None:
    images = [cv2.imread(str(PHOTOS / name)) for name in ("dog.jpg", "person.jpg")]
    assert detector.detect(images, THRESHOLDS) == [detector.detect([image], THRESHOLDS)[0] for image in images]


def test_boxes_are_clipped_to_the_image(detector) -> None:
    image = read_image(PHOTOS / "giraffe.jpg")
    height, width = image.shape[:2]
    for found in detector.detect([image], THRESHOLDS)[0]:
        assert found.box.x + found.box.w <= width and found.box.y + found.box.h <= height


@pytest.mark.parametrize("backend", ["opencv", "onnx"])
def test_lanes_share_as_many_networks_as_run_at_once(backend: str) -> None:
    # Networks are lent per forward pass, not kept per thread: two lanes over many images (and a pool of fresh
    # threads per batch, as each run has) make two networks, and warm() makes them ahead without adding more.
    from concurrent.futures import ThreadPoolExecutor

    detector = load_detector(backend, 416, lanes=2)
    assert isinstance(detector, RowsDetector)
    made: list[int] = []
    make = detector._networks._make

    def counting_make() -> Any:
        made.append(1)
        return make()

    detector._networks._make = counting_make
    detector.warm()
    assert len(made) == 2 and len(detector._networks) == 2
    images = [read_image(path) for path in sorted(PHOTOS.glob("*.jpg"))] * 2
    expected = [detector.detect([image], THRESHOLDS)[0] for image in images]
    for _ in range(2):
        with ThreadPoolExecutor(2) as lanes:
            assert list(lanes.map(lambda image: detector.detect([image], THRESHOLDS)[0], images)) == expected
    assert len(made) == 2 and len(detector._networks) == 2
