"""The three assets materialized on a temporary Dagster instance against the real S3 server and broker."""

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from dagster import (
    AssetKey,
    ConfigurableResource,
    DagsterInstance,
    ExecuteInProcessResult,
    RunRequest,
    build_sensor_context,
    materialize,
)
from PIL import Image

from imgassets.core import layout
from imgassets.core.images import sha256_hex as images_sha256
from imgassets.core.records import DetectionRecord, Manifest, Summary
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.defs.raw_images import RAW_IMAGES
from imgassets_tests import helpers
from imgassets_tests.conftest import PHOTOS

pytestmark = pytest.mark.integration
ASSETS = [image_batch_asset(helpers.PARTITIONS), detection_summary_asset(helpers.PARTITIONS)]
EXPECTED = {
    "dog.jpg": {"dog", "bicycle", "truck"},
    "person.jpg": {"person", "dog", "horse"},
    "giraffe.jpg": {"giraffe", "zebra"},
    "eagle.jpg": {"bird"},
    "horses.jpg": {"horse", "cow"},
}


def _sensor_runs(deployment: helpers.Deployment, instance: DagsterInstance) -> list[RunRequest]:
    result = helpers.tick(build_sensor_context(resources=deployment.resources(), instance=instance))
    return result.run_requests


def _run(
    deployment: helpers.Deployment, instance: DagsterInstance, request: RunRequest, **resources: ConfigurableResource
) -> ExecuteInProcessResult:
    outcome = materialize(
        ASSETS,
        partition_key=request.partition_key,
        run_config=request.run_config,
        resources=deployment.resources(**resources),
        instance=instance,
    )
    assert outcome.success
    return outcome


def test_ingest_sensor_run_detections_summary(topics, store, photos, deployment) -> None:
    report = deployment.ingest_folder(photos)
    assert len(report.sent) == 5 and not report.failed
    # Ingesting the same files again announces nothing new.
    again = deployment.ingest_folder(photos)
    assert not again.sent and len(again.duplicates) == 5

    instance = DagsterInstance.ephemeral()
    (request,) = _sensor_runs(deployment, instance)
    checks = helpers.check_results(_run(deployment, instance, request))
    partition = helpers.partition_of(request)
    # A sensor run answers for its own batch.
    assert checks["every_valid_image_has_detections"] == (
        True,
        {"scope": "batch", "images_without_record": 0, "examples": []},
    )
    assert checks["summary_covers_all_detections"] == (
        True,
        {"scope": "batch", "run_images": 5, "run_merged": 1},
    )
    assert checks["rejection_rate_below_threshold"][0]

    records = {}
    for key in report.sent:
        parsed = layout.parse_image_key(key)
        record = store.get_record(parsed.detection_key, DetectionRecord)
        records[key.rsplit("-", 1)[-1]] = record
        assert record.source_image_path == f"s3://{store.bucket}/{key}"
        assert record.model_used == "yolov4-tiny" and record.backend == "onnxruntime"
        assert (record.confidence_threshold, record.nms_threshold, record.input_size) == (0.5, 0.4, 416)
        assert record.provenance.kafka is not None and record.provenance.kafka.topic == topics.images
        assert record.provenance.dagster_partition == partition
        assert record.provenance.source is not None and record.provenance.source.path.endswith(key.rsplit("-", 1)[-1])
        assert store.head(parsed.thumbnail_key) is not None
    for name, labels in EXPECTED.items():
        assert {d.label for d in records[name].detections} == labels, name

    summary = store.get_record(layout.summary_key(partition), Summary)
    assert summary.image_count == 5 and summary.rejected_count == 0
    assert summary.total_objects == sum(len(r.detections) for r in records.values())
    assert summary.class_counts["horse"] == 3 and summary.images_with_class["horse"] == 2

    materialization = instance.get_latest_materialization_event(AssetKey("detection_summary"))
    assert materialization is not None and materialization.asset_materialization is not None
    assert materialization.asset_materialization.partition == partition
    assert materialization.asset_materialization.metadata["images"].value == 5


def test_backfill_processes_the_whole_hour_and_replays_do_not_duplicate(topics, store, photos, deployment) -> None:
    report = deployment.ingest_folder(photos)
    partition = layout.parse_image_key(report.sent[0]).partition
    instance = DagsterInstance.ephemeral()
    # No batch config: what a UI-launched run or backfill does.
    for _ in range(2):
        outcome = materialize(ASSETS, partition_key=partition, resources=deployment.resources(), instance=instance)
        assert outcome.success
        # A backfill audits the whole hour against the records listed from S3.
        checks = helpers.check_results(outcome)
        assert checks["every_valid_image_has_detections"][0]
        assert checks["every_valid_image_has_detections"][1]["scope"] == "hour"
        assert checks["summary_covers_all_detections"] == (
            True,
            {"scope": "hour", "summary_images": 5, "detection_records": 5},
        )
    manifests = [store.get_record(k, Manifest) for k in store.list_keys(layout.manifests_prefix(partition))]
    assert len(manifests) == 2 and all(m.mode == "backfill" and len(m.accepted) == 5 for m in manifests)
    assert len(list(store.list_keys(layout.detections_prefix(partition)))) == 5
    summary = store.get_record(layout.summary_key(partition), Summary)
    assert summary.image_count == 5 and len(summary.runs) == 2


def test_raw_images_and_detections_materialize_alone_too(topics, store, photos, deployment) -> None:
    """One step materializes both, yet each can be selected alone: raw_images validates without detecting, and
    detections alone (a backfill after a promotion) takes the images raw_images accepted."""
    from dagster import AssetSelection

    report = deployment.ingest_folder(photos)
    partition = layout.parse_image_key(report.sent[0]).partition
    instance = DagsterInstance.ephemeral()

    def run(selection: AssetSelection, **kwargs: Any):
        return materialize(
            ASSETS,
            selection=selection,
            partition_key=partition,
            resources=deployment.resources(),
            instance=instance,
            **kwargs,
        )

    validated = run(AssetSelection.assets("raw_images"))
    assert validated.success
    assert {e.asset_key.path[0] for e in validated.get_asset_materialization_events()} == {"raw_images"}
    assert set(helpers.check_results(validated)) == {"rejection_rate_below_threshold"}
    assert len(list(store.list_keys(layout.manifests_prefix(partition)))) == 1
    assert not list(store.list_keys(layout.detections_prefix(partition)))

    detected = run(AssetSelection.assets("detections"))
    assert detected.success
    assert {e.asset_key.path[0] for e in detected.get_asset_materialization_events()} == {"detections"}
    assert helpers.check_results(detected)["every_valid_image_has_detections"][0]
    records = [store.get_record(k, DetectionRecord) for k in store.list_keys(layout.detections_prefix(partition))]
    assert sorted(r.image_key for r in records) == sorted(report.sent)
    assert len(list(store.list_keys(layout.manifests_prefix(partition)))) == 1  # raw_images did not run again


def test_bad_images_are_rejected_with_reasons_and_the_rest_is_processed(topics, store, photos, deployment) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    dog = (photos / "dog.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(dog[: len(dog) * 2 // 3])
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    (photos / "tiny.png").write_bytes(buffer.getvalue())
    report = deployment.ingest_folder(photos)
    assert len(report.sent) == 7  # the empty file is refused at ingest: not an image
    assert [reason for _, reason in report.failed] == ["not a supported image (JPEG, PNG, WebP, BMP, TIFF)"]

    instance = DagsterInstance.ephemeral()
    (request,) = _sensor_runs(deployment, instance)
    _run(deployment, instance, request)
    summary = store.get_record(layout.summary_key(helpers.partition_of(request)), Summary)
    assert summary.image_count == 5 and summary.rejected_count == 2
    reasons = {r.image_key.rsplit("-", 1)[-1]: r.reason for r in summary.rejected}
    assert "truncated" in reasons["truncated.jpg"]
    assert "too small: 1x1" in reasons["tiny.png"]
    rejection = json.loads(
        store.get(
            layout.parse_image_key(next(k for k in report.sent if k.endswith("truncated.jpg"))).rejection_key
        ).data
    )
    assert rejection["kafka"]["topic"] == topics.images

    check = instance.get_latest_materialization_event(RAW_IMAGES.key)
    assert check is not None and check.asset_materialization is not None
    assert check.asset_materialization.metadata["rejected"].value == 2


def test_a_message_for_a_missing_object_is_rejected_not_lost(topics, store, deployment) -> None:
    from imgassets.core import messages

    now = datetime.now(UTC)
    digest = "0" * 64
    producer = deployment.producer()
    producer.send(
        topics.images,
        value=messages.encode(
            messages.ImageMessage(
                bucket=store.bucket,
                key=layout.image_key(digest, "ghost.jpg", now),
                size=1,
                sha256=digest,
                content_type="image/jpeg",
                uploaded_at=now,
                source=messages.Source(path="ghost.jpg"),
            )
        ),
    )
    producer.flush()
    producer.close()
    instance = DagsterInstance.ephemeral()
    (request,) = _sensor_runs(deployment, instance)
    _run(deployment, instance, request)
    summary = store.get_record(layout.summary_key(helpers.partition_of(request)), Summary)
    assert [r.reason for r in summary.rejected] == ["object not found in S3"]


def test_objects_over_the_size_limit_are_rejected_before_their_body_is_read(topics, store, deployment) -> None:
    """The announced size is checked before any GET, and an object larger than it said is refused on the GET's
    content length, before its body is read."""
    from imgassets.core import messages
    from imgassets.core.storage import ObjectTooLarge

    now = datetime.now(UTC)
    big = (PHOTOS / "dog.jpg").read_bytes()
    producer = deployment.producer()
    for name, announced in [("honest.jpg", len(big)), ("understated.jpg", 100)]:
        digest = images_sha256(big + name.encode())
        key = layout.image_key(digest, name, now)
        store.put_bytes(key, big, "image/jpeg")
        producer.send(
            topics.images,
            value=messages.encode(
                messages.ImageMessage(
                    bucket=store.bucket,
                    key=key,
                    size=announced,
                    sha256=digest,
                    content_type="image/jpeg",
                    uploaded_at=now,
                    source=messages.Source(path=name),
                )
            ),
        )
    producer.flush()
    producer.close()
    with pytest.raises(ObjectTooLarge):
        store.get(key, max_bytes=4096)
    instance = DagsterInstance.ephemeral()
    (request,) = _sensor_runs(deployment, instance)
    _run(deployment, instance, request, pipeline=deployment.pipeline(max_image_bytes=4096))
    summary = store.get_record(layout.summary_key(helpers.partition_of(request)), Summary)
    assert sorted(r.reason for r in summary.rejected) == [
        f"file too large: {len(big)} bytes > limit 4096",
        f"file too large: {len(big)} bytes > limit 4096",
    ]


def test_a_retry_from_failure_detects_its_parent_runs_batch(store, deployment) -> None:
    """Dagster's retry re-executes from the failed step: detections finds the batch in the parent's manifest,
    in the root run's when the parent had no raw_images step either, and the whole hour otherwise."""
    from dagster import DagsterRun

    from imgassets.core.records import ManifestEntry
    from imgassets.defs.batch import batch_manifest, hour_entries

    partition = "2026-11-25-07:00"
    now = datetime(2026, 11, 25, 7, 5, tzinfo=UTC)

    def manifest(run_id: str, names: list[str]) -> None:
        entries = [
            ManifestEntry(
                key=f"images/2026/11/25/07/{n:0>12}-{n}.jpg", sha256=n * 8, size=1, width=2, height=2, format="JPEG"
            )
            for n in names
        ]
        store.put_record(
            layout.manifest_key(partition, run_id),
            Manifest(partition=partition, run_id=run_id, mode="batch", created_at=now, accepted=entries, rejected=[]),
        )

    manifest("root", ["a"])
    manifest("other", ["b"])

    def names(run: DagsterRun) -> set[str]:
        batch = batch_manifest(store, partition, run)
        entries = batch.accepted if batch is not None else hour_entries(store, partition)
        return {e.key.rsplit("-", 1)[-1] for e in entries}

    assert names(DagsterRun(job_name="j", run_id="retry1", parent_run_id="root", root_run_id="root")) == {"a.jpg"}
    assert names(DagsterRun(job_name="j", run_id="retry2", parent_run_id="retry1", root_run_id="root")) == {"a.jpg"}
    manifest("retry1", ["c"])  # raw_images ran again in the first retry: its batch wins
    assert names(DagsterRun(job_name="j", run_id="retry2", parent_run_id="retry1", root_run_id="root")) == {"c.jpg"}
    assert names(DagsterRun(job_name="j", run_id="ui-run")) == {"a.jpg", "b.jpg", "c.jpg"}


def test_a_run_worker_reads_each_shard_of_the_hour_once(store) -> None:
    """The summary and table steps of one run share the hour's shard reads (a shard never changes once its run
    wrote it): each is read from S3 once per process, and one written later is read when it appears."""
    from imgassets.core.records import Shard
    from imgassets.defs.batch import hour_shards

    partition = "2026-11-25-07:00"
    created = datetime(2026, 11, 25, 7, 5, tzinfo=UTC)

    def write(run_id: str) -> None:
        shard = Shard(partition=partition, run_id=run_id, created_at=created, images=[], rejected=[])
        store.put_record(layout.shard_key(partition, run_id), shard)

    write("first")
    assert [s.run_id for s in hour_shards(store, partition)[0]] == ["first"]
    # Were it read again, this would fail to parse.
    store.put_bytes(layout.shard_key(partition, "first"), b"not a shard", "application/json")
    write("second")
    assert sorted(s.run_id for s in hour_shards(store, partition)[0]) == ["first", "second"]
