"""The columnar detections table (the detection_table asset) on the real S3 server, and DuckDB queries over it
checked against counts computed directly from the JSON detection records."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, ExecuteInProcessResult, build_sensor_context, materialize

from imgassets.core import layout, table
from imgassets.core.records import DetectionRecord, HourRollup, Manifest, Shard, Summary
from imgassets.defs.batch import REQUEUE_TAG, hour_rollup, written_records
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.detection_table import detection_table_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.devtools import synthetic
from imgassets.reading import server
from imgassets.reading.query import Catalog, HourRange, query
from imgassets_tests import helpers

pytestmark = pytest.mark.integration
ASSETS = [
    image_batch_asset(helpers.PARTITIONS),
    detection_summary_asset(helpers.PARTITIONS),
    detection_table_asset(helpers.PARTITIONS),
]


def _json_records(store, partition: str) -> list[DetectionRecord]:
    return store.get_records(layout.detections_prefix(partition), DetectionRecord)


def _table_check(outcome) -> tuple[bool, dict]:
    return helpers.check_results(outcome)["table_rows_match_detection_records"]


def _assert_table_matches_records(store, partition: str) -> None:
    """The hour's stored tables hold exactly the hour's JSON detection records: one row per image, one per box."""
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


def test_sensor_runs_and_backfills_write_the_hour_table(topics, store, photos, deployment) -> None:
    instance = DagsterInstance.ephemeral()
    assert len(deployment.ingest_folder(photos).sent) == 5
    (photos / "second").mkdir()
    (photos / "second" / "copy.jpg").write_bytes(b"\xff\xd8" + (photos / "dog.jpg").read_bytes()[2:] + b"\x00")
    tick = helpers.tick(build_sensor_context(resources=deployment.resources(), instance=instance))
    (request,) = tick.run_requests
    partition = request.partition_key
    assert partition is not None

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

    left = len(written_records)
    assert run(request.run_config) == (
        True,
        {
            "scope": "batch",
            "shard_images": 5,
            "shard_images_missing": 0,
            "added": 5,
            "image_rows": 5,
            "detection_rows": _objects(store, partition),
            "objects_in_images": _objects(store, partition),
        },
    )
    # The table step took the run's own records from memory, as its detections wrote them: every one, and the
    # same rows as the records in S3 give.
    assert len(written_records) == left
    _assert_table_matches_records(store, partition)
    # A second batch of the same hour appends its own part: one row, and the hour has six.
    second = deployment.ingest_folder(photos / "second")
    assert len(second.sent) == 1 and layout.parse_image_key(second.sent[0]).partition == partition
    tick = helpers.tick(build_sensor_context(cursor=tick.cursor, resources=deployment.resources(), instance=instance))
    (request2,) = tick.run_requests
    passed, counts = run(request2.run_config)
    assert passed and counts["image_rows"] == 1 == counts["shard_images"] == counts["added"]
    _assert_table_matches_records(store, partition)
    # The first batch replayed: its new part's rows replace the old ones wherever the hour is read.
    passed, counts = run(request.run_config)
    assert passed and counts["image_rows"] == 5 == counts["added"]
    _assert_table_matches_records(store, partition)
    parts = [key for key in store.list_keys(layout.table_hour_prefix("images", partition)) if "/run-" in key]
    assert len(parts) == 3
    # A compaction merges the three parts; then the whole hour is backfilled: rows are replaced, never added.
    assert table.compact_hour(store, partition).merged == {"detections": 3, "images": 3}
    _assert_table_matches_records(store, partition)
    passed, counts = run()
    assert passed and (counts["scope"], counts["image_rows"], counts["detection_records"]) == ("hour", 6, 6)
    assert list(store.list_keys(layout.table_hour_prefix("images", partition))) == [
        layout.table_key("images", partition)
    ]
    _assert_table_matches_records(store, partition)
    summary = store.get_record(layout.summary_key(partition), Summary)
    assert sum(summary.source_counts.values()) == 6


def test_a_record_that_cannot_be_read_costs_only_its_own_row(topics, store, photos, deployment) -> None:
    """A corrupt detection record: the hour's table is still written with every other image, and the check
    fails naming that record (it does not fail the run)."""
    report = deployment.ingest_folder(photos)
    partition = layout.parse_image_key(report.sent[0]).partition
    instance = DagsterInstance.ephemeral()
    assert materialize(ASSETS, partition_key=partition, resources=deployment.resources(), instance=instance).success
    broken = layout.parse_image_key(report.sent[0]).detection_key
    store.put_bytes(broken, b'{"schema": "imgassets.detections.v1", "image_key": ', "application/json")
    outcome = materialize(
        [detection_table_asset(helpers.PARTITIONS)],
        partition_key=partition,
        resources=deployment.resources(),
        instance=instance,
    )
    assert outcome.success
    passed, counts = _table_check(outcome)
    assert not passed and (counts["scope"], counts["detection_records"], counts["image_rows"]) == ("hour", 5, 4)
    assert counts["unreadable_records"] == 1 and broken in counts["unreadable_examples"]
    stored = table.read_hour(store, partition)
    assert stored is not None and report.sent[0] not in stored.images.column("image_key").to_pylist()


def test_a_damaged_shard_or_manifest_costs_only_itself(topics, store, photos, deployment) -> None:
    """A shard and a manifest of the hour that cannot be parsed (a bad write, a bit flip): sensor runs, which fold
    only their own, never read them; the compaction's catch-up and a backfill read every one of the hour's, count
    every readable run, and name the damaged ones (the backfill's checks fail)."""
    instance = DagsterInstance.ephemeral()
    deployment.ingest_folder(photos)
    tick = helpers.tick(build_sensor_context(resources=deployment.resources(), instance=instance))
    (request,) = tick.run_requests
    partition = request.partition_key
    assert partition is not None

    def run(run_config: Mapping[str, Any]) -> ExecuteInProcessResult:
        return materialize(
            ASSETS, partition_key=partition, run_config=run_config, resources=deployment.resources(), instance=instance
        )

    assert run(request.run_config).success
    damaged_shard = layout.shard_key(partition, "0damaged")
    damaged_manifest = layout.manifest_key(partition, "0damaged")
    store.put_bytes(damaged_shard, b'{"partition": "' + partition.encode() + b'", "images": [', "application/json")
    store.put_bytes(damaged_manifest, b"\x00\xff not json", "application/json")

    (photos / "second").mkdir()
    (photos / "second" / "copy.jpg").write_bytes((photos / "dog.jpg").read_bytes() + b"\x00")
    deployment.ingest_folder(photos / "second")
    tick = helpers.tick(build_sensor_context(cursor=tick.cursor, resources=deployment.resources(), instance=instance))
    (second,) = tick.run_requests
    outcome = run(second.run_config)
    assert outcome.success
    checks = helpers.check_results(outcome)
    assert checks["summary_covers_all_detections"][0] and checks["table_rows_match_detection_records"][0]
    assert store.get_record(layout.summary_key(partition), Summary).image_count == 6

    caught_up = hour_rollup(store, partition, None)
    assert set(caught_up.unreadable_shards) == {damaged_shard}
    assert set(caught_up.unreadable_manifests) == {damaged_manifest}
    assert caught_up.rollup.image_count == 6 and caught_up.rollup.run_count == 2

    # A backfill of the summary (a backfill of raw_images refuses the hour while a manifest is damaged).
    outcome = materialize(
        [detection_summary_asset(helpers.PARTITIONS)],
        partition_key=partition,
        resources=deployment.resources(),
        instance=instance,
    )
    assert outcome.success
    checks = helpers.check_results(outcome)
    passed, summary_check = checks["summary_covers_all_detections"]
    assert not passed and summary_check["unreadable_records"] == 2
    assert damaged_shard in summary_check["unreadable_examples"]
    assert damaged_manifest in summary_check["unreadable_examples"]
    summary = store.get_record(layout.summary_key(partition), Summary)
    assert summary.image_count == 6 and len(summary.runs) == 2


def test_roll_ups_fold_only_what_is_new_and_rebuild_what_is_lost(topics, store, photos, deployment) -> None:
    """Each sensor run's roll-ups start from the hour's stored roll-up and fold in only its own shard and manifest;
    a damaged roll-up is rebuilt from the shards and manifests (nothing lost), and a backfill always rebuilds."""
    instance = DagsterInstance.ephemeral()
    cursor: str | None = None
    requests: list[Mapping[str, Any]] = []

    def sensor_run(folder) -> tuple[dict, Summary]:
        nonlocal cursor
        deployment.ingest_folder(folder)
        context = build_sensor_context(cursor=cursor, resources=deployment.resources(), instance=instance)
        tick = helpers.tick(context)
        cursor = tick.cursor
        (request,) = tick.run_requests
        assert request.partition_key is not None
        requests.append(request.run_config)
        return _rolled(request.partition_key, request.run_config)

    def _rolled(
        partition: str, run_config: Mapping[str, Any] | None, tags: dict[str, str] | None = None
    ) -> tuple[dict, Summary]:
        outcome = materialize(
            ASSETS,
            partition_key=partition,
            run_config=run_config,
            resources=deployment.resources(),
            instance=instance,
            tags=tags,
        )
        assert outcome.success
        checks = helpers.check_results(outcome)
        assert checks["summary_covers_all_detections"][0] and checks["table_rows_match_detection_records"][0]
        (materialization,) = outcome.asset_materializations_for_node("detection_summary")
        metadata = {key: value.value for key, value in materialization.metadata.items()}
        return metadata, store.get_record(layout.summary_key(partition), Summary)

    metadata, summary = sensor_run(photos)
    partition = summary.partition
    first_request = requests[0]
    assert (metadata["rollup"], metadata["folded"]) == ("rebuilt (none stored)", 2)
    assert summary.image_count == 5
    folders = []
    for index in range(3):
        folder = photos / f"more{index}"
        folder.mkdir()
        (folder / f"copy{index}.jpg").write_bytes((photos / "dog.jpg").read_bytes() + bytes([index]))
        folders.append(folder)

    metadata, summary = sensor_run(folders[0])
    assert (metadata["rollup"], metadata["folded"]) == ("stored", 2)  # its own shard and manifest
    assert summary.image_count == 6 and len(summary.runs) == 2

    store.put_bytes(layout.rollup_key(partition), b'{"partition": [', "application/json")
    metadata, summary = sensor_run(folders[1])
    assert metadata["rollup"].startswith("rebuilt (the stored one cannot be read: ValidationError")
    assert metadata["folded"] == 6 and summary.image_count == 7 and len(summary.runs) == 3
    assert summary == helpers.merged_summary(
        partition,
        summary.generated_at,
        store.get_records(layout.shards_prefix(partition), Shard),
        store.get_records(layout.manifests_prefix(partition), Manifest),
    )

    store.delete(layout.rollup_key(partition))
    metadata, summary = sensor_run(folders[2])
    assert (metadata["rollup"], metadata["folded"]) == ("rebuilt (none stored)", 8)
    metadata, backfilled = _rolled(partition, None)
    assert (metadata["rollup"], metadata["folded"]) == ("rebuilt (a backfill)", 10)
    assert backfilled.image_count == summary.image_count == 8 and len(backfilled.runs) == 5
    stored = store.get_record(layout.rollup_key(partition), HourRollup)
    assert stored.run_count == len(stored.recent_runs) == 5 and stored.image_count == 8
    # A batch processed again (a re-queued run, tagged so): its images are counted already, so the hour is
    # rebuilt, each image's latest result winning, and nothing is counted twice.
    metadata, again = _rolled(partition, first_request, tags={REQUEUE_TAG: "1"})
    assert metadata["rollup"].startswith("rebuilt (a batch processed again")
    assert again.image_count == 8 and again.run_count == 6


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
    assert [key for key, _, _ in catalog.listed("detections", week)] == [layout.table_key("detections", partition)]


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


def _synthetic_hours(store, first: datetime, hours: int, images: int) -> list[table.HourTables]:
    written = []
    for index in range(hours):
        hour = first + timedelta(hours=index)
        tables = synthetic.hour_tables(hour, images, np.random.default_rng(index))
        table.write_hour(store, layout.partition_key(hour), tables)
        written.append(tables)
    return written


def _expected_matches(written: list[table.HourTables], conditions: dict[str, int], min_confidence: float) -> set[str]:
    """The search's answer computed in plain Python from the rows (no SQL)."""
    matched = set()
    for tables in written:
        per_image: dict[str, Counter] = {}
        for row in tables.detections.to_pylist():
            if row["confidence"] >= min_confidence:
                per_image.setdefault(row["image_key"], Counter())[row["label"]] += 1
        matched |= {k for k, c in per_image.items() if all(c[label] >= n for label, n in conditions.items())}
    return matched


def _get(url: str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_search_endpoint_downloads_and_hour_pages_match_a_direct_count(bucket, deployment) -> None:
    store = deployment.store()
    first = datetime(2026, 11, 20, 9, tzinfo=UTC)
    written = _synthetic_hours(store, first, 4, 200)
    expected = _expected_matches(written, {"person": 2, "car": 1}, 0.6)
    assert len(expected) > 20, "the synthetic data should give several pages of matches"
    query = "from=2026-11-20-09:00&to=2026-11-20T13:00&class=person:2&class=car:1&min_confidence=0.6"
    with server.running(deployment.settings) as base:
        status, body, _ = _get(f"{base}/search?{query}&page_size=10")
        found = json.loads(body)
        assert status == 200 and found["total"] == len(expected) and found["bucket"] == "hour"
        assert sum(bar["matches"] for bar in found["histogram"]) == len(expected) and len(found["histogram"]) == 4
        assert len(found["images"]) == 10 and {i["image_key"] for i in found["images"]} <= expected
        uploaded = [image["uploaded_at"] for image in found["images"]]
        assert uploaded == sorted(uploaded, reverse=True)
        pages = -(-len(expected) // 10)
        last = json.loads(_get(f"{base}/search?{query}&page_size=10&page={pages}")[1])
        assert len(last["images"]) == len(expected) - 10 * (pages - 1) and last["total"] == len(expected)

        status, csv_body, headers = _get(f"{base}/search.csv?{query}")
        assert status == 200 and "attachment" in headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(csv_body.decode())))
        assert {row["image_key"] for row in rows} == expected
        status, parquet_body, _ = _get(f"{base}/search.parquet?{query}")
        assert parquet_body[:4] == b"PAR1"
        assert set(pq.read_table(io.BytesIO(parquet_body)).column("image_key").to_pylist()) == expected

        # One hour paged with the filters pushed down: images with at least 2 cars from one camera.
        hour_images = written[1].images.to_pylist()
        wanted = {i["image_key"] for i in hour_images if dict(i["counts"]).get("car", 0) >= 2 and i["source"] == "gate"}
        status, body, _ = _get(f"{base}/hours/2026-11-20-10:00?class=car&min=2&source=gate&page_size=200")
        page = json.loads(body)
        assert status == 200 and page["total"] == len(wanted) and {i["image_key"] for i in page["images"]} == wanted
        assert page["sources"] == sorted({i["source"] for i in hour_images})

        for bad in ["last=7x", "last=1d&class=person:0", "last=1d&min_confidence=2", "from=2026-11-20&to=2026-11-19"]:
            status, body, _ = _get(f"{base}/search?{bad}")
            assert status == 400 and json.loads(body)["error"], bad
        assert _get(f"{base}/hours/not-an-hour")[0] == 400
        assert _get(f"{base}/search.xlsx?last=1d")[0] == 400


def test_query_cli_and_python_function(bucket, deployment) -> None:
    store = deployment.store()
    written = _synthetic_hours(store, datetime(2026, 11, 21, 0, tzinfo=UTC), 3, 80)
    by_label = Counter(label for tables in written for label in tables.detections.column("label").to_pylist())
    sql = "SELECT label, count(*) AS n FROM detections GROUP BY label ORDER BY label"
    result = deployment.cli("query", "--from", "2026-11-21", "--to", "2026-11-21T03:00", "--format", "json", sql)
    assert result.exit_code == 0, result.output
    assert {row["label"]: row["n"] for row in map(json.loads, result.stdout.splitlines())} == by_label
    hours = HourRange(datetime(2026, 11, 21, 1, tzinfo=UTC), datetime(2026, 11, 21, 2, tzinfo=UTC))
    assert query("SELECT count(*) AS n FROM images", hours, deployment.settings).to_pylist() == [{"n": 80}]
    bad = deployment.cli("query", "--last", "1d", "SELECT nonsense FROM detections")
    assert bad.exit_code == 1 and "Error:" in bad.output and "nonsense" in bad.output
    assert deployment.cli("query", "SELECT 1").exit_code == 1


def test_storage_down_is_503_and_a_bad_query_is_400(bucket, deployment) -> None:
    """S3 unreachable is the storage's fault (503, and the CLI says so); a query DuckDB refuses is the caller's."""
    down = deployment.with_values(s3_endpoint_url="http://127.0.0.1:9", s3_max_attempts=1)
    with server.running(down.settings) as base:
        for path in ["/search?last=1d", "/hours/2026-11-25-04:00", "/search.csv?last=1d"]:
            status, body, _ = _get(base + path)
            assert status == 503 and "cannot be read" in json.loads(body)["error"], path
    result = down.cli("query", "--last", "1d", "SELECT count(*) FROM images")
    assert result.exit_code == 1 and "Error: EndpointConnectionError" in result.output
    _synthetic_hours(deployment.store(), datetime(2026, 11, 22, 0, tzinfo=UTC), 1, 10)
    with server.running(deployment.settings) as base:
        status, body, _ = _get(f"{base}/search?from=2026-11-22&to=2026-11-22T01:00&class=person:1&page=0")
        assert status == 400 and "page" in json.loads(body)["error"]


def test_cached_and_streamed_reads_agree_and_a_rewritten_hour_is_read_again(bucket, deployment) -> None:
    """Ranges that fit the memory bound are kept in memory (by key and ETag); larger ones are streamed by
    DuckDB's httpfs. Both answer the same, and an hour rewritten since (a new ETag) is read again."""
    store = deployment.store()
    first = datetime(2026, 11, 23, 0, tzinfo=UTC)
    written = _synthetic_hours(store, first, 3, 60)
    hours = HourRange(first, first + timedelta(hours=3))
    sql = "SELECT source, label, count(*) AS n FROM detections GROUP BY ALL ORDER BY ALL"
    cached = Catalog(deployment.settings)
    streamed = Catalog(deployment.with_values(query_cache_mib=0).settings)
    assert cached.query(sql, hours) == streamed.query(sql, hours)
    assert sum(cached.query(sql, hours).column("n").to_pylist()) == sum(t.detections.num_rows for t in written)
    assert len(cached._hours) == 3 and not streamed._hours
    table.write_hour(store, layout.partition_key(first), synthetic.hour_tables(first, 5, np.random.default_rng(99)))
    count = "SELECT count(*) AS n FROM images"
    assert cached.query(count, hours).to_pylist() == [{"n": 5 + 60 + 60}] == streamed.query(count, hours).to_pylist()
