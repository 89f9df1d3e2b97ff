"""Detector versions on the real S3 server with the real weights on real photos: an hour backfilled under a
second version (a lower confidence, computed from stored candidates with no forward pass; and a larger input),
the active version's records untouched, and the comparison checked against a direct computation."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey, DagsterInstance, materialize

from imgassets.core import layout
from imgassets.core.images import decode_bgr
from imgassets.core.records import Comparison, DetectionRecord
from imgassets.defs import resource_types
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.detection_table import detection_table_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.defs.version_assets import version_assets
from imgassets.detector import candidates, load_detector
from imgassets.detector.postprocess import Thresholds
from imgassets.detector.versions import DetectorVersion
from imgassets.reading import server
from imgassets_tests import helpers

pytestmark = pytest.mark.integration
PIPELINE = [
    image_batch_asset(helpers.PARTITIONS),
    detection_summary_asset(helpers.PARTITIONS),
    detection_table_asset(helpers.PARTITIONS),
]
VERSIONS = 'active = "default"\n[versions.conf03]\nconfidence = 0.3\n[versions.input608]\ninput_size = 608\n'


@pytest.fixture
def versioned(deployment, tmp_path: Path):
    path = tmp_path / "detector-versions.toml"
    path.write_text(VERSIONS)
    return deployment.with_values(detector_versions_file=path)


def _objects(store, prefix: str) -> dict[str, bytes]:
    return {key: store.get(key).data for key in store.list_keys(prefix)}


def _records(store, prefix: str) -> dict[str, DetectionRecord]:
    return {r.image_key: r for r in store.get_records(prefix, DetectionRecord)}


def _backfill(deployment, instance, partition: str, name: str):
    """What a backfill of the version's two assets from Dagster's UI runs for one hour."""
    versions = deployment.resources()["detector"].versions()
    assets = version_assets(versions.get(name), helpers.PARTITIONS)
    outcome = materialize(
        [*PIPELINE, *assets],
        selection=[AssetKey([name, "detections"]), AssetKey([name, "comparison"])],
        partition_key=partition,
        resources=deployment.resources(),
        instance=instance,
    )
    assert outcome.success
    metadata = {
        e.materialization.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
        for e in outcome.get_asset_materialization_events()
    }
    return metadata, helpers.check_results(outcome)


def _direct_matches(a: list, b: list) -> Counter[str]:
    """The comparison's matching computed independently: an IoU matrix per class, B by confidence."""
    matched: Counter[str] = Counter()
    for label in {d.label for d in a} & {d.label for d in b}:
        ours = np.array([[d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h] for d in a if d.label == label])
        theirs = sorted((d for d in b if d.label == label), key=lambda d: -d.confidence)
        used = np.zeros(len(ours), bool)
        for d in theirs:
            box = np.array([d.box.x, d.box.y, d.box.x + d.box.w, d.box.y + d.box.h])
            inter = np.clip(np.minimum(ours[:, 2:], box[2:]) - np.maximum(ours[:, :2], box[:2]), 0, None).prod(axis=1)
            areas = (ours[:, 2:] - ours[:, :2]).prod(axis=1) + (box[2:] - box[:2]).prod()
            overlap = np.where(used, -1.0, inter / (areas - inter))
            if len(overlap) and overlap.max() >= 0.5:
                used[int(overlap.argmax())] = True
                matched[label] += 1
    return matched


def _check_comparison(store, name: str, partition: str) -> Comparison:
    comparison = store.get_record(layout.comparison_key(name, partition), Comparison)
    a = _records(store, layout.detections_prefix(partition))
    b = _records(store, layout.version_detections_prefix(name, partition))
    assert a.keys() == b.keys() and comparison.images == len(a) == 5
    per_image = {key: _direct_matches(a[key].detections, b[key].detections) for key in a}
    matched = sum((found for found in per_image.values()), Counter())
    objects_a = Counter(d.label for r in a.values() for d in r.detections)
    objects_b = Counter(d.label for r in b.values() for d in r.detections)
    assert {c.label: (c.a, c.b, c.matched) for c in comparison.classes} == {
        label: (objects_a[label], objects_b[label], matched[label]) for label in objects_a | objects_b
    }
    total = sum(matched.values())
    assert (comparison.objects_a, comparison.objects_b, comparison.matched) == (
        sum(objects_a.values()),
        sum(objects_b.values()),
        total,
    )
    assert comparison.precision == round(total / sum(objects_b.values()), 4)
    assert comparison.recall == round(total / sum(objects_a.values()), 4)
    differing = {key: len(a[key].detections) + len(b[key].detections) - 2 * sum(per_image[key].values()) for key in a}
    assert {d.image_key: d.difference for d in comparison.disagreements} == {k: v for k, v in differing.items() if v}
    return comparison


def test_an_hour_backfilled_under_other_versions_keeps_the_active_records_and_compares(
    topics, store, photos, versioned, monkeypatch
) -> None:
    report = versioned.ingest_folder(photos)
    partition = layout.parse_image_key(report.sent[0]).partition
    instance = DagsterInstance.ephemeral()
    assert materialize(PIPELINE, partition_key=partition, resources=versioned.resources(), instance=instance).success
    active = _objects(store, layout.detections_prefix(partition))
    assert len(active) == 5
    (stored_key,) = store.list_keys(layout.CANDIDATES)
    assert [len(found) for found in candidates.read_hour(store, stored_key.split("/")[1], partition)] == [5, 0]

    # conf03 differs only in its confidence: computed from the stored candidates, the network never loaded.
    def no_network(*args, **kwargs):
        raise AssertionError("the detector was loaded for a threshold-only version")

    resource_types._cached_detector.cache_clear()
    monkeypatch.setattr(DetectorVersion, "detector", no_network)
    metadata, checks = _backfill(versioned, instance, partition, "conf03")
    assert metadata["conf03/detections"]["forward_passes"] == 0
    assert metadata["conf03/detections"]["from_stored_candidates"] == 5
    assert checks["every_valid_image_has_detections"][0] and checks["every_image_compared"][0]
    monkeypatch.undo()

    # Its records are what the network run at confidence 0.3 gives on the same pixels.
    network, conf03_thresholds = load_detector("onnx", 416), Thresholds(0.3, 0.4)
    conf03 = _records(store, layout.version_detections_prefix("conf03", partition))
    for key, record in conf03.items():
        pixels = decode_bgr(store.get(key).data, 50_000_000)
        assert record.detections == network.detect([pixels], conf03_thresholds)[0]
        assert record.confidence_threshold == 0.3 and record.input_size == 416
    comparison = _check_comparison(store, "conf03", partition)
    assert comparison.recall == 1.0 and comparison.objects_b > comparison.objects_a  # lower threshold: a superset

    # input608 needs its own forward pass, and stores its own candidates.
    metadata, checks = _backfill(versioned, instance, partition, "input608")
    assert metadata["input608/detections"]["forward_passes"] == 5
    assert metadata["input608/detections"]["from_stored_candidates"] == 0
    assert all(
        r.input_size == 608 for r in _records(store, layout.version_detections_prefix("input608", partition)).values()
    )
    assert len(list(store.list_keys(layout.CANDIDATES))) == 2
    _check_comparison(store, "input608", partition)

    # The active version's records are byte for byte what they were.
    assert _objects(store, layout.detections_prefix(partition)) == active

    # The query endpoint serves the compare page's data from these comparisons.
    with server.running(versioned.settings) as url:
        with urllib.request.urlopen(f"{url}/versions/conf03/compare?from={partition}&sort=only_b") as response:
            page = json.loads(response.read())
        assert (page["objects_a"], page["objects_b"], page["matched"]) == (
            comparison.objects_a,
            comparison.objects_b,
            comparison.matched,
        )
        assert [h["partition"] for h in page["hours"]] == [partition]
        only_b = [d["only_b"] for d in page["disagreements"]]
        assert only_b == sorted(only_b, reverse=True) and len(only_b) == len(comparison.disagreements)
        image = comparison.disagreements[0].image_key
        with urllib.request.urlopen(f"{url}/versions/conf03/images/{image}") as response:
            both = json.loads(response.read())
        assert len(both["detections_a"]) == len(
            DetectionRecord.model_validate_json(active[layout.parse_image_key(image).detection_key]).detections
        )
        assert len(both["detections_b"]) == len(conf03[image].detections)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/versions/default/compare")
        assert refused.value.code == 400 and "active version" in json.loads(refused.value.read())["error"]


def test_unreadable_candidates_and_comparisons_cost_only_themselves(topics, store, photos, versioned) -> None:
    """A corrupt candidates object: its images go through the network (named in the metadata); a corrupt
    comparison: the compare page names it and sums the other hours."""
    report = versioned.ingest_folder(photos)
    partition = layout.parse_image_key(report.sent[0]).partition
    instance = DagsterInstance.ephemeral()
    assert materialize(PIPELINE, partition_key=partition, resources=versioned.resources(), instance=instance).success
    (stored_key,) = store.list_keys(layout.CANDIDATES)
    store.put_bytes(stored_key, b"PAR1 not parquet", "application/vnd.apache.parquet")
    metadata, checks = _backfill(versioned, instance, partition, "conf03")
    assert metadata["conf03/detections"]["forward_passes"] == 5
    assert metadata["conf03/detections"]["from_stored_candidates"] == 0
    assert metadata["conf03/detections"]["unreadable_records"] == 1
    assert checks["every_valid_image_has_detections"][0] and checks["every_image_compared"][0]
    _check_comparison(store, "conf03", partition)

    broken = layout.comparison_key("conf03", partition)
    store.put_bytes(broken, b'{"schema": "imgassets.comparison.v1"', "application/json")
    with (
        server.running(versioned.settings) as url,
        urllib.request.urlopen(f"{url}/versions/conf03/compare?from={partition}") as response,
    ):
        page = json.loads(response.read())
    assert page["unreadable"] == [broken] and page["hours"] == [] and page["images"] == 0
