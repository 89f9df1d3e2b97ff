"""The contract between the pipeline and the viewer (contract/), and the schema-evolution rule for records.

- the committed JSON Schema and route table match the Python code (`python -m imgassets.devtools.contract --check`),
  and the viewer's generated TypeScript matches them (`npm run contract`, regenerated into a temporary folder);
- `viewer_link` builds the links the pipeline puts in Dagster's UI;
- records as written by today's code (fixtures/records-v1, never regenerated) still load, and so do records
  written by newer code that carry fields this code does not know.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from imgassets.core import viewer_routes
from imgassets.core.records import (
    Box,
    Detection,
    DetectionRecord,
    ImageResult,
    Manifest,
    Record,
    Rejection,
    Shard,
    Summary,
)
from imgassets.devtools import contract
from imgassets_tests import helpers

PROJECT_ROOT = contract.CONTRACT_DIR.parent
FRONTEND = PROJECT_ROOT / "frontend"
FIXTURES = Path(__file__).parent / "fixtures" / "records-v1"
V1: dict[str, type[Record]] = {
    "detection": DetectionRecord,
    "rejection": Rejection,
    "manifest": Manifest,
    "shard": Shard,
    "summary": Summary,
}


# --- the committed contract is what the code generates ------------------------------------------------------


def test_committed_contract_matches_the_python_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "imgassets.devtools.contract", "--check"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-6000:]


def test_check_names_the_stale_file_and_shows_the_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "contract"
    monkeypatch.setattr(contract, "CONTRACT_DIR", folder)
    monkeypatch.setattr(contract, "SCHEMA_FILE", folder / "records.schema.json")
    monkeypatch.setattr(contract, "ROUTES_FILE", folder / "viewer-routes.json")
    monkeypatch.setattr(contract, "SETTINGS_FILE", folder / "viewer-settings.json")
    assert contract.main(["--write"]) == 0
    assert contract.main(["--check"]) == 0
    stale = contract.SCHEMA_FILE.read_text().replace('"image_width"', '"image_w"')
    contract.SCHEMA_FILE.write_text(stale)
    capsys.readouterr()
    assert contract.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "contract/records.schema.json is stale" in err
    assert '-        "image_w": {' in err and '+        "image_width": {' in err
    assert "viewer-routes.json" not in err.split("run `")[0]


def test_schema_covers_every_document_and_marks_the_version_tag_required() -> None:
    schema = contract.records_schema()
    defs = schema["$defs"]
    for model in contract.DOCUMENTS:
        assert {"$ref": f"#/$defs/{model.__name__}"} in schema["anyOf"]
    for model in contract.VERSIONED_DOCUMENTS:
        assert "schema" in defs[model.__name__]["required"]
    for name in ("Detection", "Box", "Provenance", "KafkaRef", "Source", "VideoFrame", "ManifestEntry", "ImageResult"):
        assert name in defs
    assert "title" not in defs["Box"]["properties"]["x"], "field titles would become TypeScript aliases"


@pytest.mark.skipif(
    not (FRONTEND / "node_modules" / "json-schema-to-typescript").is_dir() or shutil.which("node") is None,
    reason="the viewer's node modules are not installed (cd frontend && npm ci; `make test` does it first)",
)
def test_viewer_types_are_generated_from_the_committed_contract(tmp_path: Path) -> None:
    result = subprocess.run(
        ["node", "scripts/contract.mjs", "--out-dir", str(tmp_path)],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("records.generated.ts", "viewer-routes.generated.ts", "settings.generated.ts"):
        committed = FRONTEND / "app" / "lib" / name
        assert committed.read_text() == (tmp_path / name).read_text(), (
            f"frontend/app/lib/{name} is stale: run `cd frontend && npm run contract`"
        )


# --- links into the viewer ---------------------------------------------------------------------------------


def test_viewer_link_builds_the_image_and_hour_pages() -> None:
    key = "images/2026/11/25/04/5a9522051c3c-dog.jpg"
    assert viewer_routes.viewer_link("http://127.0.0.1:3001", "image", key=key) == f"http://127.0.0.1:3001/images/{key}"
    assert (
        viewer_routes.viewer_link("https://viewer.example.com/", "hour", partition="2026-11-25-04:00")
        == "https://viewer.example.com/hours/2026-11-25-04:00"
    )
    assert viewer_routes.viewer_link("http://h:3001", "overview") == "http://h:3001/"


def test_viewer_link_encodes_parameters_and_refuses_wrong_ones() -> None:
    assert viewer_routes.viewer_path("hour", partition="a/b c") == "/hours/a%2Fb%20c"
    assert viewer_routes.viewer_path("image", key="images/x#y?z%.jpg") == "/images/images/x%23y%3Fz%25.jpg"
    with pytest.raises(ValueError, match="unknown viewer route 'hours'"):
        viewer_routes.viewer_link("http://h", "hours", partition="2026-11-25-04:00")
    with pytest.raises(ValueError, match="missing or empty: partition"):
        viewer_routes.viewer_link("http://h", "hour")
    with pytest.raises(ValueError, match="missing or empty: key"):
        viewer_routes.viewer_link("http://h", "image", key="")
    with pytest.raises(ValueError, match="unexpected: partition"):
        viewer_routes.viewer_link("http://h", "image", key="images/a", partition="2026-11-25-04:00")


def test_route_examples_are_what_viewer_path_builds() -> None:
    # The viewer's viewerPath is tested against the same examples (frontend/app/lib/viewer-routes.test.ts).
    for example in contract.routes_document()["examples"]:
        assert viewer_routes.viewer_path(example["route"], **example["params"]) == example["path"]


# --- schema evolution ----------------------------------------------------------------------------------------


def _fixture(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def _keeps(written: Any, read_back: Any) -> bool:
    """Everything `written` holds is in `read_back` (which may hold more: fields added since)."""
    if isinstance(written, dict):
        return isinstance(read_back, dict) and all(
            k in read_back and _keeps(v, read_back[k]) for k, v in written.items()
        )
    if isinstance(written, list):
        return isinstance(read_back, list) and len(written) == len(read_back) and all(map(_keeps, written, read_back))
    return written == read_back


#: What a later version deliberately changed in a v1 record (a breaking change: the tag moved on): the summary's
#: v2 keeps the counts and drops the per-image list, which the hour's table holds.
CHANGED_SINCE_V1 = {"summary": {"schema", "images"}}


@pytest.mark.parametrize("name", sorted(V1))
def test_v1_records_as_written_today_still_load_and_lose_nothing(name: str) -> None:
    raw = _fixture(name)
    record = V1[name].model_validate_json(raw)
    written = {k: v for k, v in json.loads(raw).items() if k not in CHANGED_SINCE_V1.get(name, set())}
    assert _keeps(written, json.loads(record.to_json()))


@pytest.mark.parametrize("name", sorted(V1))
def test_v1_records_have_the_fields_of_the_exported_schema(name: str) -> None:
    definition = contract.records_schema()["$defs"][V1[name].__name__]
    fields = set(json.loads(_fixture(name))) - (CHANGED_SINCE_V1.get(name, set()) - {"schema"})
    assert set(definition["required"]) <= fields <= set(definition["properties"])


def _with_unknown_fields(name: str) -> dict[str, Any]:
    """The fixture as a newer writer might write it: extra fields at the top and in nested objects."""
    data = json.loads(_fixture(name))
    data["written_by"] = {"version": "9.9", "host": "worker-7"}
    if name == "detection":
        data["detections"][0]["track_id"] = 12
        data["detections"][0]["box"]["rotation"] = 0.5
        data["provenance"]["gpu"] = "none"
        data["provenance"]["kafka"]["leader_epoch"] = 3
        data["provenance"]["source"]["camera"] = "north gate"
    if name == "manifest":
        data["accepted"][1]["exif"] = {"Make": "Canon"}
        data["accepted"][1]["source"]["camera"] = "street"
        data["accepted"][1]["source"]["video_frame"]["codec"] = "h264"
        data["rejected"][0]["retryable"] = False
    if name in ("shard", "summary"):
        data["images"][0]["thumbnail_key"] = "thumbnails/2026/11/25/04/x.jpg"
        data["rejected"][0]["stage"] = "decode"
    return data


@pytest.mark.parametrize("name", sorted(V1))
def test_records_with_fields_this_code_does_not_know_load_and_drop_them(name: str) -> None:
    newer = _with_unknown_fields(name)
    record = V1[name].model_validate_json(json.dumps(newer))
    assert record == V1[name].model_validate_json(_fixture(name))
    assert record.to_json() == V1[name].model_validate_json(_fixture(name)).to_json()


def test_an_hour_with_newer_shards_and_manifests_still_rebuilds_its_summary() -> None:
    shard = Shard.model_validate_json(json.dumps(_with_unknown_fields("shard")))
    manifest = Manifest.model_validate_json(json.dumps(_with_unknown_fields("manifest")))
    summary = helpers.merged_summary(shard.partition, shard.created_at, [shard], [manifest])
    stored = Summary.model_validate_json(_fixture("summary"))
    # Fields added after the v1 fixture was written are computed by the merge; the stored record defaults them.
    added = set(Summary.model_fields) - set(json.loads(_fixture("summary"))) - {"schema_"}
    assert added == {"images_without_objects", "source_counts", "run_count"}
    assert summary.source_counts == {"unknown": summary.image_count}
    # An older summary counts as many runs as it names (it named every one).
    assert stored.run_count == len(stored.runs)
    ignored = {"generated_at", *added}
    assert summary.model_dump(exclude=ignored) == stored.model_dump(exclude=ignored)


def test_fields_with_defaults_may_be_absent_in_older_records() -> None:
    shard = json.loads(_fixture("shard"))
    del shard["rejected"]
    assert Shard.model_validate_json(json.dumps(shard)).rejected == []
    rejection = json.loads(_fixture("rejection"))
    del rejection["kafka"]
    assert Rejection.model_validate_json(json.dumps(rejection)).kafka is None


def test_another_schema_version_is_refused() -> None:
    data = json.loads(_fixture("summary"))
    data["schema"] = "imgassets.summary.v3"
    with pytest.raises(ValidationError, match="imgassets.summary.v2"):
        Summary.model_validate_json(json.dumps(data))


def test_a_v1_summary_reads_as_v2_without_its_image_list() -> None:
    """v2 dropped the per-image list (the hour's table holds it): a breaking change, so the tag changed, and
    the reader accepts v1 summaries still in S3."""
    v1 = json.loads(_fixture("summary"))
    assert v1["schema"] == "imgassets.summary.v1" and v1["images"]
    summary = Summary.model_validate_json(json.dumps(v1))
    written = json.loads(summary.to_json())
    assert written["schema"] == "imgassets.summary.v2" and "images" not in written
    assert (summary.image_count, summary.class_counts, summary.runs) == (
        v1["image_count"],
        v1["class_counts"],
        v1["runs"],
    )


def test_records_built_in_code_still_refuse_misspelt_fields() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted: heigth"):
        ImageResult(  # type: ignore[call-arg]  # deliberately misspelt: the model must refuse it
            image_key="images/2026/11/25/04/5a9522051c3c-dog.jpg",
            detection_key="d",
            width=1,
            heigth=1,
            counts={},
            objects=0,
            processed_at="2026-11-25T04:40:11Z",
        )
    with pytest.raises(ValidationError, match="Extra inputs are not permitted: rotation"):
        Detection(label="dog", class_id=16, confidence=0.9, box={"x": 0, "y": 0, "w": 1, "h": 1, "rotation": 2})
    assert Box(x=1, y=2, w=3, h=4).to_json() == b'{"x":1,"y":2,"w":3,"h":4}'
