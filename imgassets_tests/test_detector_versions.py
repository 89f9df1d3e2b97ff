"""Detector versions without services: the versions file, candidates that make a threshold-only version exact,
and the comparison's box matching."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from imgassets.core.records import Box, Detection, DetectionRecord, Provenance
from imgassets.detector import find_model_files, load_detector
from imgassets.detector.comparison import compare, iou, matches
from imgassets.detector.layouts import Placement, decode
from imgassets.detector.postprocess import CANDIDATE_FLOOR, Thresholds, candidates
from imgassets.detector.versions import DEFAULT, DetectorVersion, VersionsError, load_versions
from imgassets_tests.conftest import PHOTOS, THRESHOLDS

DEFAULT_VERSION = DetectorVersion(name=DEFAULT, backend="onnx", input_size=416, confidence=0.5, nms=0.4)
LABELS = tuple(f"class{i}" for i in range(4))


def _versions(tmp_path: Path, text: str):
    path = tmp_path / "versions.toml"
    path.write_text(text)
    return load_versions(path, DEFAULT_VERSION)


def test_versions_inherit_from_default_and_one_is_active(tmp_path: Path) -> None:
    versions = _versions(
        tmp_path,
        'active = "people"\n[versions.people]\nclasses = ["person"]\n[versions.big]\ninput_size = 608\n',
    )
    assert versions.active.name == "people" and versions.active.classes == ("person",)
    assert versions.active.confidence == 0.5 and versions.get("big").input_size == 608
    assert [v.name for v in versions.others] == ["big", "default"]
    # Unset: the project's detector-versions.toml, which keeps today's detector active.
    assert load_versions(None, DEFAULT_VERSION).active == DEFAULT_VERSION


@pytest.mark.parametrize(
    "text, message",
    [
        ("[versions.default]\nconfidence = 0.3\n", "is the IMGASSETS_DETECTOR_* settings"),
        ('active = "nope"\n', "active = 'nope' is not a version"),
        ("[versions.Bad-Name]\n", "must match"),
        ("[versions.low]\nconfidence = 1.5\n", "version 'low': confidence"),
        ("[versions.low]\nthreshold = 0.2\n", "version 'low': threshold"),
        ("[versions.low]\nclasses = []\n", "at least one class"),
        ("colour = 1\n", "unknown keys colour"),
        ("[versions.x\n", "versions.toml"),
    ],
)
def test_a_bad_versions_file_is_refused_naming_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(VersionsError, match=message.replace("*", r"\*").replace("(", r"\(")):
        _versions(tmp_path, text)


def test_a_missing_versions_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(VersionsError, match="IMGASSETS_DETECTOR_VERSIONS_FILE: .* is not a file"):
        load_versions(tmp_path / "absent.toml", DEFAULT_VERSION)


def test_model_files_are_checked_when_a_version_is_loaded(tmp_path: Path) -> None:
    files = find_model_files()
    real = hashlib.sha256(files.weights.read_bytes()).hexdigest()
    assert DEFAULT_VERSION.model_copy(update={"sha256": real}).files().weights_sha256 == real
    with pytest.raises(VersionsError, match=f"has sha256 {real}, not {'0' * 64}"):
        DEFAULT_VERSION.model_copy(update={"sha256": "0" * 64}).files()
    with pytest.raises(VersionsError, match="classes not in coco.names: unicorn"):
        DEFAULT_VERSION.model_copy(update={"classes": ("person", "unicorn")}).files()
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"")
    with pytest.raises(VersionsError, match="an .onnx model needs backend"):
        DEFAULT_VERSION.model_copy(update={"backend": "opencv", "weights": onnx, "names": files.names}).files()
    with pytest.raises(VersionsError, match="carries no class names in its metadata: give a names file"):
        DEFAULT_VERSION.model_copy(update={"weights": onnx}).files()
    onnx.write_bytes(b"\x08garbage")
    with pytest.raises(VersionsError, match="is not a readable ONNX model"):
        DEFAULT_VERSION.model_copy(update={"weights": onnx}).files()
    with pytest.raises(VersionsError, match="model files missing"):
        DEFAULT_VERSION.model_copy(
            update={"weights": tmp_path / "x.weights", "cfg": files.cfg, "names": files.names}
        ).files()


def test_an_onnx_file_given_by_path_is_used_as_it_is(tmp_path: Path) -> None:
    """The design accepts ONNX weights by path: here the converted YOLOv4-tiny, given as a plain .onnx file."""
    converted = load_detector("onnx", 416)
    model = tmp_path / "yolo.onnx"
    model.write_bytes(Path(converted.model_path).read_bytes())  # type: ignore[attr-defined]
    files = find_model_files()
    version = DEFAULT_VERSION.model_copy(update={"weights": model, "names": files.names})
    detector = load_detector("onnx", 416, files=version.files())
    image = cv2.imread(str(PHOTOS / "dog.jpg"))
    assert image is not None
    assert detector.detect([image], THRESHOLDS) == converted.detect([image], THRESHOLDS)


# --- candidates: a threshold-only version is exact ------------------------------------------------------------


@st.composite
def _rows(draw: st.DrawFn) -> np.ndarray:
    """Network-like rows: boxes inside the image, scores (many equal, many near thresholds)."""
    count = draw(st.integers(0, 40))
    near = [float(np.float32(v)) for v in (0.0, 0.05, 0.1, 0.1001, 0.2, 0.3, 0.30001, 0.5, 0.7, 0.95)]
    scores = st.sampled_from(near) | st.floats(0, 1, width=32)
    boxes = arrays(np.float32, (count, 4), elements=st.floats(0, 1, width=32))
    objectness = arrays(np.float32, (count, 1), elements=st.floats(0, 1, width=32))
    classes = arrays(np.float32, (count, len(LABELS)), elements=scores)
    return np.concatenate([draw(boxes), draw(objectness), draw(classes)], axis=1)


@settings(max_examples=300, deadline=None)
@given(
    rows=_rows(),
    confidence=st.floats(CANDIDATE_FLOOR, 0.99),
    nms=st.floats(0.1, 0.9),
    classes=st.none() | st.sets(st.sampled_from(LABELS), min_size=1),
    nms_mode=st.sampled_from(["per_class", "agnostic"]),
)
def test_selecting_from_stored_candidates_equals_a_fresh_decode(rows, confidence, nms, classes, nms_mode) -> None:
    decoded = decode("darknet", [rows[None]], 416)[0]
    placement = Placement(416 / 640, 416 / 480, stretched=True)
    stored = candidates(decoded, placement, 416, 640, 480, CANDIDATE_FLOOR)  # what a run stores, at the floor
    fresh = candidates(decoded, placement, 416, 640, 480, confidence)  # what a forward pass at it keeps
    thresholds = Thresholds(confidence, nms, frozenset(classes) if classes is not None else None, nms_mode)
    assert thresholds.select(stored, LABELS) == thresholds.select(fresh, LABELS)


@pytest.mark.parametrize("backend", ["onnx", "opencv"])
def test_real_photos_a_lower_threshold_from_candidates_equals_running_the_network_at_it(backend: str) -> None:
    network = load_detector(backend, 416)
    labels = network.files.labels
    active, lower = THRESHOLDS, Thresholds(0.3, 0.4)
    people = Thresholds(0.5, 0.4, frozenset({"person", "dog"}))
    for photo in sorted(PHOTOS.glob("*.jpg")):
        image = cv2.imread(str(photo))
        assert image is not None, photo
        (stored,) = network.candidates([image])
        assert lower.select(stored, labels) == network.detect([image], lower)[0]
        wanted = [d for d in network.detect([image], active)[0] if d.label in ("person", "dog")]
        assert people.select(stored, labels) == wanted
        assert len(lower.select(stored, labels)) >= len(active.select(stored, labels))


# --- comparison ---------------------------------------------------------------------------------------------------


def _detection(label: str, x: int, y: int, w: int, h: int, confidence: float = 0.9) -> Detection:
    return Detection(label=label, class_id=LABELS.index(label), confidence=confidence, box=Box(x=x, y=y, w=w, h=h))


def test_iou_of_known_boxes() -> None:
    assert iou(Box(x=0, y=0, w=10, h=10), Box(x=5, y=0, w=10, h=10)) == pytest.approx(50 / 150)
    assert iou(Box(x=0, y=0, w=10, h=10), Box(x=10, y=0, w=10, h=10)) == 0.0
    assert iou(Box(x=3, y=4, w=7, h=9), Box(x=3, y=4, w=7, h=9)) == 1.0


def test_matching_needs_the_same_class_and_iou_at_least_one_half_and_matches_each_box_once() -> None:
    a = [_detection("class0", 0, 0, 10, 10), _detection("class1", 50, 50, 10, 10)]
    b = [
        _detection("class0", 1, 0, 10, 10, 0.8),  # IoU 0.82 with A's first
        _detection("class0", 0, 1, 10, 10, 0.7),  # also overlaps it, but it is taken
        _detection("class2", 50, 50, 10, 10),  # same place, other class
        _detection("class1", 55, 50, 10, 10),  # IoU 1/3
    ]
    assert matches(a, b) == {"class0": 1}


boxes = st.builds(
    _detection,
    st.sampled_from(LABELS),
    st.integers(0, 60),
    st.integers(0, 60),
    st.integers(1, 40),
    st.integers(1, 40),
    st.floats(0.1, 1.0),
)


def _record(key: str, found: list[Detection]) -> DetectionRecord:
    return DetectionRecord(
        image_key=key,
        source_image_path=f"s3://b/{key}",
        image_sha256="0" * 64,
        image_width=100,
        image_height=100,
        model_used="m",
        model_weights_sha256="0" * 64,
        backend="onnxruntime",
        input_size=416,
        confidence_threshold=0.5,
        nms_threshold=0.4,
        detections=found,
        counts=DetectionRecord.count(found),
        provenance=Provenance(
            kafka=None,
            dagster_run_id="r",
            dagster_partition="2026-12-04-10:00",
            source=None,
            uploaded_at=None,
            processed_at=datetime(2026, 12, 4, 10, tzinfo=UTC),
            inference_ms=1.0,
        ),
    )


@settings(max_examples=200, deadline=None)
@given(images=st.lists(st.tuples(st.lists(boxes, max_size=6), st.lists(boxes, max_size=6)), max_size=5))
def test_comparison_counts_are_consistent(images) -> None:
    a = {f"images/k{i}": _record(f"images/k{i}", found_a) for i, (found_a, _) in enumerate(images)}
    b = {f"images/k{i}": _record(f"images/k{i}", found_b) for i, (_, found_b) in enumerate(images)}
    result = compare("2026-12-04-10:00", datetime.now(UTC), ("default", "v"), ("A", "B"), a, b)
    assert result.objects_a == sum(len(r.detections) for r in a.values())
    assert result.objects_b == sum(len(r.detections) for r in b.values())
    assert result.matched <= min(result.objects_a, result.objects_b)
    assert sum(c.matched for c in result.classes) == result.matched
    for d in result.disagreements:
        assert d.only_a + d.matched == d.objects_a and d.only_b + d.matched == d.objects_b and d.difference > 0
    differences = [d.difference for d in result.disagreements]
    assert differences == sorted(differences, reverse=True)
    itself = compare("2026-12-04-10:00", datetime.now(UTC), ("default", "v"), ("A", "A"), a, a)
    assert itself.disagreements == [] and itself.matched == itself.objects_a
    assert itself.recall == itself.precision == (1.0 if itself.objects_a else None)


def test_versions_prepare_fills_the_model_cache_once(tmp_path: Path) -> None:
    """What the code image runs when it is built: each ONNX Runtime version's converted model and optimized graph
    in the cache; run again, it converts nothing."""
    from click.testing import CliRunner

    from imgassets.cli.main import main
    from imgassets.core.settings import get_settings
    from imgassets.defs.resource_types import _cached_detector

    get_settings.cache_clear()
    _cached_detector.cache_clear()
    env = {"IMGASSETS_ENV_FILE": "/dev/null", "XDG_CACHE_HOME": str(tmp_path)}
    try:
        first = CliRunner().invoke(main, ["versions", "prepare"], env=env)
        assert first.exit_code == 0, first.output
        cached = sorted((tmp_path / "imgassets").iterdir())
        # The shipped versions run at input sizes 416 and 608, and int8 at 416: a converted model and an optimized
        # graph for each of the two sizes, the quantised model and its optimized graph.
        assert len(cached) == 6 and sum(path.name.endswith("-extended.onnx") for path in cached) == 3
        assert sum("-int8-" in path.name for path in cached) == 2
        assert all(f"{path}" in first.output for path in cached if path.name.endswith("-extended.onnx"))
        stamps = {path: path.stat().st_mtime_ns for path in cached}
        _cached_detector.cache_clear()
        again = CliRunner().invoke(main, ["versions", "prepare"], env=env)
        assert again.exit_code == 0 and {path: path.stat().st_mtime_ns for path in cached} == stamps
    finally:
        get_settings.cache_clear()
        _cached_detector.cache_clear()


def test_versions_cli_lists_the_versions_and_refuses_what_it_cannot_backfill() -> None:
    from click.testing import CliRunner

    from imgassets.cli.main import main
    from imgassets.core.settings import get_settings

    get_settings.cache_clear()
    try:
        runner = CliRunner()
        listed = runner.invoke(main, ["versions", "list"], env={"IMGASSETS_ENV_FILE": "/dev/null"})
        assert listed.exit_code == 0 and "* default" in listed.output and "  conf03 " in listed.output
        refused = runner.invoke(main, ["versions", "backfill", "default", "--last", "2h"])
        assert refused.exit_code == 1 and "'default' is not a version with its own assets" in refused.output
        get_settings.cache_clear()
        unreachable = runner.invoke(
            main,
            ["versions", "backfill", "conf03", "--last", "2h"],
            env={"IMGASSETS_ENV_FILE": "/dev/null", "IMGASSETS_DAGSTER_URL": "http://127.0.0.1:9"},
        )
        assert unreachable.exit_code == 1 and "http://127.0.0.1:9 cannot be reached" in unreachable.output
    finally:
        get_settings.cache_clear()
