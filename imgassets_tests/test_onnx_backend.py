"""The onnxruntime backend against the OpenCV reference, on the real photos and the real weights."""

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from imgassets.detector import darknet_onnx, find_model_files, load_detector
from imgassets.detector.onnx_backend import OnnxDetector
from imgassets_tests.conftest import PHOTOS, THRESHOLDS, read_image

NAMES = ["dog.jpg", "person.jpg", "horses.jpg", "giraffe.jpg", "eagle.jpg"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_detector(cache_dir: Path) -> OnnxDetector:
    return OnnxDetector(find_model_files(), 416, cache_dir=cache_dir)


@pytest.fixture(scope="module")
def opencv_detector():
    return load_detector("opencv", 416)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return [read_image(PHOTOS / name) for name in NAMES]


def opencv_rows(images: list[np.ndarray]) -> np.ndarray:
    """(images, rows, 85) straight from an independent OpenCV net, both yolo layers concatenated."""
    files = find_model_files()
    net = cv2.dnn.readNetFromDarknet(str(files.cfg), str(files.weights))
    net.setInput(cv2.dnn.blobFromImages(images, 1 / 255.0, (416, 416), swapRB=True, crop=False))
    outputs = net.forward(net.getUnconnectedOutLayersNames())
    return np.concatenate([out.reshape(len(images), -1, out.shape[-1]) for out in outputs], axis=1)


def test_raw_rows_match_opencv(onnx_detector: OnnxDetector, images: list[np.ndarray]) -> None:
    ours, reference = onnx_detector.raw_rows(images), opencv_rows(images)
    assert ours.shape == reference.shape == (len(images), 2535, 85)
    diff = np.abs(ours - reference)
    assert diff[..., :4].max() < 1e-4  # relative box coordinates
    assert diff[..., 4].max() < 1e-3  # objectness
    assert diff[..., 5:].max() < 1e-3  # class scores (objectness included)
    # Both zero the same low class scores (OpenCV's yolo layer drops scores <= 0.2).
    assert np.array_equal(ours[..., 5:] == 0, reference[..., 5:] == 0)


@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_detections_match_opencv(onnx_detector, opencv_detector, images, index: int) -> None:
    image = images[index]
    ours = sorted(onnx_detector.detect([image], THRESHOLDS)[0], key=lambda d: (d.label, d.box.x, d.box.y))
    expected = sorted(opencv_detector.detect([image], THRESHOLDS)[0], key=lambda d: (d.label, d.box.x, d.box.y))
    assert expected, "every demo photo has objects"
    assert [d.label for d in ours] == [d.label for d in expected]
    for found, reference in zip(ours, expected, strict=False):
        assert found.confidence == pytest.approx(reference.confidence, abs=1e-3)
        ours_box = (found.box.x, found.box.y, found.box.w, found.box.h)
        reference_box = (reference.box.x, reference.box.y, reference.box.w, reference.box.h)
        assert max(abs(a - b) for a, b in zip(ours_box, reference_box, strict=False)) <= 1


def test_a_batch_gives_the_per_image_results(onnx_detector: OnnxDetector, images: list[np.ndarray]) -> None:
    assert onnx_detector.detect(images, THRESHOLDS) == [
        onnx_detector.detect([image], THRESHOLDS)[0] for image in images
    ]
    assert onnx_detector.detect([], THRESHOLDS) == []


def test_conversion_is_cached(onnx_detector: OnnxDetector, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = onnx_detector.model_path
    assert path.parent == cache_dir and path.is_file()
    stamp = path.stat().st_mtime_ns

    def no_conversion(*args: object) -> None:
        raise AssertionError("converted again despite the cache")

    monkeypatch.setattr(darknet_onnx, "convert", no_conversion)
    again = OnnxDetector(find_model_files(), 416, cache_dir=cache_dir)
    assert again.model_path == path and path.stat().st_mtime_ns == stamp
    optimized = onnx_detector.optimized_model()
    # The converted model and its graph optimized by ONNX Runtime; no leftover temporary files.
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted([path.name, optimized.name])
    # Another input size is another model.
    monkeypatch.undo()
    other = OnnxDetector(find_model_files(), 320, cache_dir=cache_dir)
    assert other.model_path != path and other.raw_rows([np.zeros((50, 80, 3), np.uint8)]).shape == (1, 1500, 85)


def test_sessions_load_the_saved_optimized_graph_and_give_the_same_rows(
    onnx_detector: OnnxDetector, cache_dir: Path, images: list[np.ndarray], tmp_path: Path
) -> None:
    """Every run opens a session per lane from the graph ONNX Runtime optimized and saved once: its rows are
    exactly those of a session that optimizes the converted model itself. Where the cache cannot be written, the
    converted model is used as it is."""
    optimized = onnx_detector.optimized_model()
    assert optimized.parent == cache_dir and optimized.is_file() and optimized != onnx_detector.model_path
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    direct = ort.InferenceSession(str(onnx_detector.model_path), options, providers=["CPUExecutionProvider"])
    blob = onnx_detector.blob(images)
    assert np.array_equal(onnx_detector.raw_rows(images), direct.run(None, {direct.get_inputs()[0].name: blob})[0])

    unwritable = tmp_path / "not-a-directory"
    unwritable.write_bytes(b"")
    fallback = OnnxDetector(find_model_files(), 416, cache_dir=cache_dir)
    fallback._cache_dir = unwritable
    assert fallback.optimized_model() == fallback.model_path
    assert np.array_equal(fallback.raw_rows(images[:1]), onnx_detector.raw_rows(images[:1]))


def test_load_detector_onnx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The `onnx` backend name; the default cache is under $XDG_CACHE_HOME/imgassets."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    detector = load_detector("onnx", 416)
    assert isinstance(detector, OnnxDetector) and detector.backend == "onnxruntime"
    assert (detector.files, detector.input_size) == (find_model_files(), 416)
    assert detector.model_path.parent == tmp_path / "imgassets"


@pytest.mark.parametrize("backend", ["onnx", "opencv"])
def test_lanes_in_parallel_give_the_sequential_detections(backend: str, images: list[np.ndarray]) -> None:
    """Each lane has its own network: concurrent callers get exactly what one caller gets."""
    from concurrent.futures import ThreadPoolExecutor

    detector = load_detector(backend, 416, lanes=3)
    assert detector.lanes == 3
    sequential = [detector.detect([image], THRESHOLDS)[0] for image in images]
    work = images * 4
    with ThreadPoolExecutor(detector.lanes) as pool:
        parallel = list(pool.map(lambda image: detector.detect([image], THRESHOLDS)[0], work))
    assert parallel == sequential * 4
