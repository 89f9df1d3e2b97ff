"""`imgassets versions add`, as the user types it: a model of another family becomes a version in one command, and a
model that cannot be one leaves the versions file as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from imgassets.detector import find_model_files
from imgassets.detector.versions import DEFAULT_FILE
from imgassets_tests import layout_models
from imgassets_tests.e2e_stack import cli

LABELS = find_model_files().labels


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The CLI's environment with a copy of the project's versions file."""
    versions = tmp_path / "detector-versions.toml"
    shutil.copy(DEFAULT_FILE, versions)
    kept = {k: v for k, v in os.environ.items() if not k.startswith("IMGASSETS_")}
    return kept | {
        "IMGASSETS_ENV_FILE": "/dev/null",
        "IMGASSETS_DETECTOR_VERSIONS_FILE": str(versions),
        "IMGASSETS_DAGSTER_URL": "http://127.0.0.1:9",  # no Dagster here: `add` says so and goes on
    }


def test_an_ultralytics_style_export_is_added_with_one_command(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    model = layout_models.save(layout_models.yolov8(LABELS), tmp_path / "models" / "yolo-export.onnx")
    result = cli(env, "versions", "add", "yolo_export", "--onnx", str(model))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert f"yolo_export: {model} (sha256 {sha})" in out
    assert "layout yolov8, input 416, 80 classes" in out and "names from yolo-export.onnx's metadata" in out
    assert "giraffe.jpg: giraffe ×1" in out and "horses.jpg: horse ×" in out  # it ran on the demo photos
    written = Path(env["IMGASSETS_DETECTOR_VERSIONS_FILE"]).read_text()
    assert '[versions.yolo_export]\nbackend = "onnx"\nweights = "models/yolo-export.onnx"' in written
    assert f'sha256 = "{sha}"' in written and 'layout = "yolov8"' in written
    assert "Dagster's webserver at http://127.0.0.1:9 cannot be reached" in out
    assert "imgassets versions backfill yolo_export --last 24h --wait" in out
    listed = cli(env, "versions", "list")
    assert "yolo_export      onnx, input 416, confidence 0.5, NMS 0.4, layout yolov8" in listed.stdout, listed


def test_a_stated_layout_wins_and_names_come_from_a_file(env: dict[str, str], tmp_path: Path) -> None:
    model = layout_models.save(layout_models.detr(), tmp_path / "detr.onnx")
    result = cli(env, "versions", "add", "detr_like", "--onnx", str(model), "--names", str(find_model_files().names))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "layout detr, input 416, 80 classes" in result.stdout and "names from " in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad-Name", "--onnx", "{model}"], "must match"),
        (["conf03", "--onnx", "{model}"], "there is already a version 'conf03'"),
        (["nomodel", "--onnx", "{missing}"], "no such file"),
        (["nonames", "--onnx", "{detr}"], "carries no class names in its metadata: give a names file"),
        (["garbage", "--onnx", "{garbage}"], "is not a readable ONNX model"),
        (["wronglayout", "--onnx", "{model}", "--layout", "detr"], "a detr layout needs two outputs"),
        (["nolayout", "--onnx", "{model}", "--layout", "yolov99"], "unknown layout 'yolov99' (known: darknet, yolov5"),
    ],
)
def test_a_model_that_cannot_be_a_version_is_refused_and_nothing_is_written(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    paths = {
        "model": layout_models.save(layout_models.yolov8(LABELS), tmp_path / "v8.onnx"),
        "detr": layout_models.save(layout_models.detr(), tmp_path / "detr.onnx"),
        "missing": tmp_path / "missing.onnx",
        "garbage": tmp_path / "garbage.onnx",
    }
    paths["garbage"].write_bytes(b"\x08not a model at all")
    versions = Path(env["IMGASSETS_DETECTOR_VERSIONS_FILE"])
    before = versions.read_text()
    result = cli(env, "versions", "add", *(arg.format(**paths) for arg in args))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert versions.read_text() == before
