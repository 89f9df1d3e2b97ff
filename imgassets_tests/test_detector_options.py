"""A version's NMS mode and execution providers: what each changes, on the real network and real photos."""

from __future__ import annotations

import logging

import pytest

from imgassets.core import images, layout
from imgassets.core.records import Detection
from imgassets.detector import DEFAULT_PROVIDERS, ModelOptions, load_detector
from imgassets.detector.comparison import iou
from imgassets.detector.onnx_backend import CPU, ProvidersError, choose_providers
from imgassets.detector.postprocess import Thresholds
from imgassets.detector.versions import DEFAULT, DetectorVersion, VersionsError, load_versions
from imgassets.devtools.bench_photos import synthetic_photos
from imgassets_tests.conftest import THRESHOLDS


def key(detection: Detection) -> tuple[str, int, int, int, int]:
    return detection.label, detection.box.x, detection.box.y, detection.box.w, detection.box.h


def test_agnostic_nms_drops_boxes_inside_boxes_of_another_class() -> None:
    """At confidence 0.3 (the original project's frames), per-class NMS keeps a box of one class inside a
    higher-scored box of another; class-agnostic NMS drops it, and only such boxes."""
    network = load_detector("onnx", 416)
    per_class, agnostic = Thresholds(0.3, 0.4), Thresholds(0.3, 0.4, nms_mode="agnostic")
    dropped = 0
    for data in synthetic_photos(20):
        pixels = images.decode_bgr(data)
        kept_all, kept_agnostic = network.detect([pixels], per_class)[0], network.detect([pixels], agnostic)[0]
        assert {key(d) for d in kept_agnostic} <= {key(d) for d in kept_all}
        for detection in kept_all:
            if key(detection) in {key(d) for d in kept_agnostic}:
                continue
            dropped += 1
            assert any(
                other.label != detection.label
                and other.confidence >= detection.confidence
                and iou(other.box, detection.box) > 0.4
                for other in kept_agnostic
            ), detection
    assert dropped >= 2


def test_the_first_available_provider_runs_and_the_fallback_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        detector = load_detector(
            "onnx",
            416,
            model=ModelOptions(providers=("CUDAExecutionProvider", "OpenVINOExecutionProvider", CPU)),
        )
        found = detector.detect([images.decode_bgr(synthetic_photos(1)[0])], THRESHOLDS)[0]
    assert found
    assert detector.providers == [CPU]  # type: ignore[attr-defined]
    lines = [r.getMessage() for r in caplog.records if "running on" in r.getMessage()]
    assert lines == [
        "CUDAExecutionProvider, OpenVINOExecutionProvider not available here "
        f"(available: {', '.join(__import__('onnxruntime').get_available_providers())}); running on {CPU}"
    ]


def test_provider_choice_keeps_the_order_asked() -> None:
    assert choose_providers(["CUDAExecutionProvider", CPU], ["CUDAExecutionProvider", CPU]) == [
        "CUDAExecutionProvider",
        CPU,
    ]
    assert choose_providers([CPU], ["CUDAExecutionProvider", CPU]) == [CPU]
    with pytest.raises(ProvidersError, match="none of the execution providers CUDAExecutionProvider is in this"):
        choose_providers(["CUDAExecutionProvider"], [CPU])


def test_versions_name_their_providers_and_nms_mode(tmp_path) -> None:
    default = DetectorVersion(name=DEFAULT, backend="onnx", input_size=416, confidence=0.5, nms=0.4)
    assert default.providers == DEFAULT_PROVIDERS
    path = tmp_path / "versions.toml"
    path.write_text(
        '[versions.gpu]\nproviders = ["CUDAExecutionProvider", "CPUExecutionProvider"]\nnms_mode = "agnostic"\n'
    )
    gpu = load_versions(path, default).get("gpu")
    assert gpu.providers == ("CUDAExecutionProvider", CPU) and gpu.nms_mode == "agnostic"
    assert gpu.forward_id(gpu.files()) == default.forward_id(default.files())  # same forward pass, other NMS
    path.write_text('[versions.gpu]\nproviders = ["CUDA"]\n')
    with pytest.raises(VersionsError, match=r"unknown execution providers \['CUDA'\]"):
        load_versions(path, default)
    path.write_text('[versions.boxed]\nresize = "letterbox"\n')
    boxed = load_versions(path, default).get("boxed")
    assert boxed.forward_id(boxed.files()) != default.forward_id(default.files())
    # Its stored candidates have a place of their own.
    assert layout.candidates_prefix(boxed.forward_id(boxed.files()), "2026-01-01-00:00").startswith("candidates/")
    path.write_text('[versions.boxed]\nbackend = "opencv"\nlayout = "yolov8"\n')
    with pytest.raises(VersionsError, match='need backend = "onnx"'):
        load_versions(path, default)


def test_the_active_version_can_be_named_by_a_setting(tmp_path) -> None:
    default = DetectorVersion(name=DEFAULT, backend="onnx", input_size=416, confidence=0.5, nms=0.4)
    path = tmp_path / "versions.toml"
    path.write_text('active = "default"\n[versions.conf03]\nconfidence = 0.3\n')
    assert load_versions(path, default).active_name == DEFAULT
    assert load_versions(path, default, "conf03").active.confidence == 0.3
    with pytest.raises(
        VersionsError, match=r"IMGASSETS_DETECTOR_ACTIVE_VERSION: 'int9' is not a version \(known: conf03"
    ):
        load_versions(path, default, "int9")


def test_a_quantized_version_needs_onnx_runtime_and_a_darknet_model(tmp_path) -> None:
    default = DetectorVersion(name=DEFAULT, backend="onnx", input_size=416, confidence=0.5, nms=0.4)
    path = tmp_path / "versions.toml"
    path.write_text('[versions.int8]\nbackend = "opencv"\nquantize = "int8"\n')
    with pytest.raises(VersionsError, match='quantize needs backend = "onnx" and a Darknet model'):
        load_versions(path, default)
    path.write_text('[versions.int8]\nquantize = "int8"\nweights = "model.onnx"\n')
    with pytest.raises(VersionsError, match='quantize needs backend = "onnx" and a Darknet model'):
        load_versions(path, default)
    path.write_text('[versions.int8]\nquantize = "int4"\n')
    with pytest.raises(VersionsError, match="quantize"):
        load_versions(path, default)
