"""The columnar detections table (the detection_table asset) on the real S3 server, and DuckDB queries over it
checked against counts computed directly from the JSON detection records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from imgassets import layout, table
from imgassets.defs.detection_summary import detection_summary
from imgassets.defs.detection_table import detection_table
from imgassets.defs.detections import detections
from imgassets.defs.kafka_sensor import kafka_image_sensor
from imgassets.defs.raw_images import raw_images
from imgassets.query import Catalog, HourRange
from imgassets.records import DetectionRecord, Summary
from imgassets_tests import helpers

pytestmark = pytest.mark.integration
ASSETS = [raw_images, detections, detection_summary, detection_table]


def _json_records(store, partition: str) -> list[DetectionRecord]:
    return store.get_records(layout.detections_prefix(partition), DetectionRecord)


def _table_check(outcome) -> tuple[bool, dict]:
    return helpers.check_results(outcome)["table_rows_match_detection_records"]


def test_sensor_runs_and_backfills_write_the_hour_table(topics, store, photos, deployment) -> None:
    instance = DagsterInstance.ephemeral()
    assert len(deployment.ingest_folder(photos).sent) == 5
    (photos / "second").mkdir()
    (photos / "second" / "copy.jpg").write_bytes(b"\xff\xd8" + (photos / "dog.jpg").read_bytes()[2:] + b"\x00")
    tick = kafka_image_sensor(build_sensor_context(resources=deployment.resources(), instance=instance))
    (request,) = tick.run_requests
    partition = request.partition_key

    def run(run_config=None) -> tuple[bool, dict]:
        outcome = materialize(
            ASSETS,
            partition_key=partition,
            run_config=run_config,
            resources=deployment.resources(),
            instance=instance,
        )
        assert outcome.success
        return _table_check(outcome)

    assert run(request.run_config) == (
        True,
        {
            "image_rows": 5,
            "detection_records": 5,
            "detection_rows": _objects(store, partition),
            "objects_in_images": _objects(store, partition),
        },
    )
    # A second batch of the same hour adds its rows to the stored table.
    second = deployment.ingest_folder(photos / "second")
    assert len(second.sent) == 1 and layout.parse_image_key(second.sent[0]).partition == partition
    tick = kafka_image_sensor(
        build_sensor_context(cursor=tick.cursor, resources=deployment.resources(), instance=instance)
    )
    (request2,) = tick.run_requests
    passed, counts = run(request2.run_config)
    assert passed and counts["image_rows"] == 6 == counts["detection_records"]
    # The first batch replayed, then the whole hour backfilled: rows are replaced, never added.
    assert run(request.run_config)[1]["image_rows"] == 6
    assert run()[1]["image_rows"] == 6

    stored = table.read_hour(store, partition)
    assert stored is not None
    records = _json_records(store, partition)
    assert sorted(stored.images.column("image_key").to_pylist()) == sorted(r.image_key for r in records)
    by_key = {r.image_key: r for r in records}
    for row in stored.images.to_pylist():
        record = by_key[row["image_key"]]
        assert dict(row["counts"]) == record.counts and row["objects"] == len(record.detections)
        assert row["source"] == record.source != "unknown"
        assert row["upload_hour"] == layout.parse_partition(partition)
    expected = Counter(
        (r.image_key, d.label, round(d.confidence, 5), d.box.x, d.box.y) for r in records for d in r.detections
    )
    assert (
        Counter(
            (row["image_key"], row["label"], round(row["confidence"], 5), row["box_x"], row["box_y"])
            for row in stored.detections.to_pylist()
        )
        == expected
    )
    summary = store.get_record(layout.summary_key(partition), Summary)
    assert sum(summary.source_counts.values()) == 6


def _objects(store, partition: str) -> int:
    return sum(len(r.detections) for r in _json_records(store, partition))


def test_duckdb_queries_read_only_the_hours_asked_and_match_the_json_records(topics, store, photos, deployment) -> None:
    instance = DagsterInstance.ephemeral()
    report = deployment.ingest_folder(photos)
    partition = layout.parse_image_key(report.sent[0]).partition
    assert materialize(ASSETS, partition_key=partition, resources=deployment.resources(), instance=instance).success
    records = _json_records(store, partition)
    hour = layout.parse_partition(partition)
    catalog = Catalog(deployment.settings)

    this_hour = HourRange(hour, hour + timedelta(hours=1))
    labels = catalog.query("SELECT label, count(*) AS n FROM detections GROUP BY label ORDER BY label", this_hour)
    expected = Counter(d.label for r in records for d in r.detections)
    assert dict(zip(labels.column("label").to_pylist(), labels.column("n").to_pylist(), strict=True)) == expected
    images = catalog.query("SELECT count(*) AS n, sum(objects) AS objects FROM images", this_hour).to_pylist()
    assert images == [{"n": len(records), "objects": sum(expected.values())}]
    # A parameterised filter, as the viewer's search uses: images with at least 2 horses.
    horses = catalog.query(
        "SELECT image_key FROM detections WHERE label = ? AND confidence >= ? GROUP BY image_key HAVING count(*) >= 2",
        this_hour,
        ["horse", 0.5],
    )
    assert horses.column("image_key").to_pylist() == [
        r.image_key for r in records if sum(1 for d in r.detections if d.label == "horse" and d.confidence >= 0.5) >= 2
    ]
    # Hours outside the range are not read: the next hour has no rows, and only this hour's objects are listed.
    next_hour = HourRange(hour + timedelta(hours=1), hour + timedelta(hours=2))
    assert catalog.query("SELECT count(*) AS n FROM detections", next_hour).to_pylist() == [{"n": 0}]
    week = HourRange(hour - timedelta(days=7), hour + timedelta(hours=1))
    assert catalog.objects("detections", week) == [f"s3://{store.bucket}/{layout.table_key('detections', partition)}"]


def test_hour_range_parsing() -> None:
    now = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
    assert HourRange.parse(None, None, "7d", now) == HourRange(
        datetime(2026, 11, 18, 5, tzinfo=UTC), datetime(2026, 11, 25, 5, tzinfo=UTC)
    )
    assert HourRange.parse("2026-11-20", "2026-11-21T06:59", None, now) == HourRange(
        datetime(2026, 11, 20, tzinfo=UTC), datetime(2026, 11, 21, 6, tzinfo=UTC)
    )
    assert HourRange.parse("2026-11-25-02:00", None, None, now).end == datetime(2026, 11, 25, 5, tzinfo=UTC)
    for bad in [("x", None, None), (None, None, "7 years"), ("2026-11-25", None, "1d"), (None, None, None)]:
        with pytest.raises(ValueError):
            HourRange.parse(*bad, now)
    with pytest.raises(ValueError, match="range too long"):
        HourRange.parse(None, None, "60w", now)
