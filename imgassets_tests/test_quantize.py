"""INT8 quantisation of YOLOv4-tiny (imgassets/detector/quantize.py) on the real weights and real photos."""

import hashlib
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from imgassets.core import images
from imgassets.detector import find_model_files
from imgassets.detector.agreement import agreement
from imgassets.detector.darknet_onnx import cached_onnx_model
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.onnx_backend import OnnxDetector
from imgassets.detector.quantize import (
    FLOAT_STEM_CONVS,
    PhotoReader,
    cached_int8_model,
    calibration_images,
    calibration_photos,
    quantize_int8,
)
from imgassets.devtools.bench_photos import synthetic_photos
from imgassets_tests.conftest import PHOTOS, THRESHOLDS


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("int8-cache")


@pytest.fixture(scope="module")
def int8_model(cache_dir: Path) -> Path:
    return cached_int8_model(find_model_files(), 416, cache_dir)


def detector(model: Path, cache_dir: Path) -> OnnxDetector:
    files = ModelFiles(cfg=None, weights=model, names=find_model_files().names)
    return OnnxDetector(files, 416, cache_dir=cache_dir)


def test_the_int8_model_agrees_with_fp32(int8_model: Path, cache_dir: Path) -> None:
    int8 = detector(int8_model, cache_dir)
    fp32 = detector(cached_onnx_model(find_model_files(), 416, cache_dir), cache_dir)
    photos = [image for path in sorted(PHOTOS.glob("*.jpg")) if (image := cv2.imread(str(path))) is not None]
    found = agreement(fp32, int8, photos + [images.decode_bgr(data) for data in synthetic_photos(60)], THRESHOLDS)
    # Measured 0.95-0.99 precision and 0.96-0.99 recall on ten such sets (the photos and 60 crops each; 1.0 on the
    # photos alone), where a quantisation of every node scores 0.89-0.92 recall. One detection is 0.006 here.
    assert found.reference > 150
    assert found.precision >= 0.93
    assert found.recall >= 0.93


def test_calibration_feeds_the_detector_input(cache_dir: Path, int8_model: Path) -> None:
    image = cv2.imread(str(calibration_photos()[0]))
    assert image is not None
    fed = PhotoReader([image], "images", 416).get_next()
    assert fed is not None
    assert np.array_equal(fed["images"], detector(int8_model, cache_dir).blob([image]))


def test_the_model_is_qdq_with_per_channel_weights(int8_model: Path) -> None:
    model = onnx.load(str(int8_model))
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    dequantized = {node.output[0]: node for node in model.graph.node if node.op_type == "DequantizeLinear"}
    assert any(node.op_type == "QuantizeLinear" for node in model.graph.node)
    convs = [node for node in model.graph.node if node.op_type == "Conv"]
    quantized = [conv for conv in convs if conv.input[1] in dequantized]
    # Float: the first convolutions and the two heads (their weights stay float initializers).
    assert [conv.input[1] in initializers for conv in convs].count(True) == FLOAT_STEM_CONVS + 2
    assert len(quantized) == len(convs) - FLOAT_STEM_CONVS - 2
    for conv in quantized:
        weights = dequantized[conv.input[1]]
        scale = numpy_helper.to_array(initializers[weights.input[1]])
        axis = next((attribute.i for attribute in weights.attribute if attribute.name == "axis"), 1)
        assert axis == 0 and scale.shape == (initializers[weights.input[0]].dims[0],)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    assert metadata["imgassets_calibration"] == ",".join(path.name for path in calibration_photos())


def test_quantisation_is_reproducible(cache_dir: Path, tmp_path: Path) -> None:
    fp32 = cached_onnx_model(find_model_files(), 416, cache_dir)
    photos = calibration_photos()[:1]  # 8 calibration images: the same code path, faster
    digests = {
        hashlib.sha256(quantize_int8(fp32, tmp_path / f"run{run}.onnx", photos).read_bytes()).hexdigest()
        for run in range(2)
    }
    assert len(digests) == 1
    assert not list(tmp_path.glob("*.tmp*"))


def test_the_cached_model_is_reused(int8_model: Path, cache_dir: Path) -> None:
    stamp = int8_model.stat().st_mtime_ns
    assert cached_int8_model(find_model_files(), 416, cache_dir) == int8_model
    assert int8_model.stat().st_mtime_ns == stamp


def test_calibration_images_are_the_photos_and_their_variants(tmp_path: Path) -> None:
    photos = calibration_photos()
    assert len(photos) == 5
    assert len(calibration_images(photos)) == 8 * len(photos)
    with pytest.raises(FileNotFoundError, match="no calibration photos"):
        calibration_photos(tmp_path)
