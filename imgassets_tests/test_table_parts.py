"""Append, then compact (imgassets/core/table.py) on the real S3 server: runs append their own parts to an hour,
a replay re-processes images, a backfill and a compaction race a late run, and DuckDB queries (kept in memory and
streamed) give the same answers before and after every compaction: each image's latest row, and its detections."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgassets.core import layout, table
from imgassets.core.records import Summary
from imgassets.core.storage import ObjectStore
from imgassets.devtools import synthetic
from imgassets.reading.query import Catalog, HourRange
from imgassets_tests import helpers

pytestmark = pytest.mark.integration

HOUR = datetime(2026, 11, 24, 7, tzinfo=UTC)
PARTITION = layout.partition_key(HOUR)
RANGE = HourRange(HOUR, HOUR + timedelta(hours=1))
IMAGES_SQL = "SELECT image_key, run_id, objects FROM images ORDER BY image_key"
DETECTIONS_SQL = "SELECT image_key, run_id, label, count(*) AS n FROM detections GROUP BY ALL ORDER BY ALL"


def _as_run(
    whole: table.HourTables, keys: set[str], run_id: str, at: datetime, empty: bool = False
) -> table.HourTables:
    """The rows of `keys` as run `run_id` processed them at `at`; `empty`: it found nothing in them."""

    def rows(name: str) -> pa.Table:
        picked = whole.of(name).filter(pc.is_in(whole.of(name).column("image_key"), value_set=pa.array(sorted(keys))))
        picked = picked.set_column(picked.schema.get_field_index("run_id"), "run_id", pa.array([run_id] * len(picked)))
        at_column = pa.array([at] * len(picked), table.IMAGES.field("processed_at").type)
        return picked.set_column(picked.schema.get_field_index("processed_at"), "processed_at", at_column)

    images, detections = rows("images"), rows("detections")
    if empty:
        images = images.set_column(
            images.schema.get_field_index("objects"), "objects", pa.array([0] * len(images), pa.int32())
        ).set_column(
            images.schema.get_field_index("counts"),
            "counts",
            pa.array([[]] * len(images), table.IMAGES.field("counts").type),
        )
        detections = detections.slice(0, 0)
    return table.HourTables(detections=detections, images=images)


def _expected(runs: list[table.HourTables]) -> tuple[list[dict], list[dict]]:
    """The answers of IMAGES_SQL and DETECTIONS_SQL computed in plain Python: per image, the row of the latest
    processed run (ties: the larger run id) and that run's detections."""
    latest: dict[str, dict] = {}
    for run in runs:
        for row in run.images.to_pylist():
            held = latest.get(row["image_key"])
            if held is None or (held["processed_at"], held["run_id"]) < (row["processed_at"], row["run_id"]):
                latest[row["image_key"]] = row
    images = [{"image_key": k, "run_id": r["run_id"], "objects": r["objects"]} for k, r in sorted(latest.items())]
    counted = Counter(
        (row["image_key"], row["run_id"], row["label"])
        for run in runs
        for row in run.detections.to_pylist()
        if latest[row["image_key"]]["run_id"] == row["run_id"]
    )
    detections = [
        {"image_key": key, "run_id": run_id, "label": label, "n": n}
        for (key, run_id, label), n in sorted(counted.items())
    ]
    return images, detections


def _answers(deployment: helpers.Deployment) -> list[tuple[list[dict], list[dict]]]:
    """The answers of a catalog that keeps hours in memory and of one that streams them."""
    found = []
    for chosen in (deployment.settings, deployment.with_values(query_cache_mib=0).settings):
        catalog = Catalog(chosen)
        found.append((catalog.query(IMAGES_SQL, RANGE).to_pylist(), catalog.query(DETECTIONS_SQL, RANGE).to_pylist()))
    return found


def _hour_keys(store: ObjectStore) -> list[str]:
    return sorted(
        k for name in layout.DETECTION_TABLES for k in store.list_keys(layout.table_hour_prefix(name, PARTITION))
    )


def _runs(
    whole: table.HourTables, pieces: int, replayed: float, rng: np.random.Generator
) -> list[tuple[str, table.HourTables]]:
    """The hour's images split into `pieces` runs, then a replay run re-processing a share `replayed` of them
    later, finding nothing in them this time."""
    keys = whole.images.column("image_key").to_pylist()
    order = rng.permutation(len(keys))
    runs = []
    for index, chunk in enumerate(np.array_split(order, pieces)):
        run_id = f"run-{index:02d}"
        runs.append((run_id, _as_run(whole, {keys[i] for i in chunk}, run_id, HOUR + timedelta(minutes=index))))
    again = {keys[i] for i in order[: int(len(keys) * replayed)]}
    if again:
        runs.append(("replay", _as_run(whole, again, "replay", HOUR + timedelta(minutes=50), empty=True)))
    return runs


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pieces=st.integers(1, 5),
    replayed=st.sampled_from([0.0, 0.3]),
    compact_after=st.integers(0, 6),
    seed=st.integers(0, 99),
)
def test_queries_answer_the_same_from_parts_and_compacted_hours(
    bucket, deployment, pieces: int, replayed: float, compact_after: int, seed: int
) -> None:
    store = deployment.store()
    for key in _hour_keys(store):
        store.delete(key)
    rng = np.random.default_rng(seed)
    whole = synthetic.hour_tables(HOUR, 40, rng)
    runs = _runs(whole, pieces, replayed, rng)
    written: list[table.HourTables] = []
    for index, (run_id, rows) in enumerate(runs):
        table.write_part(store, PARTITION, run_id, rows)
        written.append(rows)
        if index == compact_after:
            table.compact_hour(store, PARTITION)
        expected = _expected(written)
        assert _answers(deployment) == [expected, expected]
        stored = table.read_hour(store, PARTITION)
        assert stored is not None
        assert sorted(stored.images.column("image_key").to_pylist()) == [row["image_key"] for row in expected[0]]
    done = table.compact_hour(store, PARTITION)
    assert _hour_keys(store) == [layout.table_key("detections", PARTITION), layout.table_key("images", PARTITION)]
    assert done.images == (len(expected[0]) if done.merged["images"] else 0)
    assert _answers(deployment) == [expected, expected]


def test_a_compaction_racing_a_late_run_keeps_its_part(bucket, deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose part lands after the compaction listed the hour keeps it: the compaction deletes only the parts
    it merged, and the late rows count until the next compaction merges them too."""
    store = deployment.store()
    rng = np.random.default_rng(7)
    whole = synthetic.hour_tables(HOUR, 30, rng)
    runs = _runs(whole, 3, 0.3, rng)
    for run_id, rows in runs[:-1]:
        table.write_part(store, PARTITION, run_id, rows)
    late_id, late = runs[-1]
    listed = table.hour_objects

    def listing_then_a_late_run(store_: ObjectStore, partition: str) -> dict[str, list[str]]:
        found = listed(store_, partition)
        table.write_part(store, PARTITION, late_id, late)
        return found

    monkeypatch.setattr(table, "hour_objects", listing_then_a_late_run)
    done = table.compact_hour(store, PARTITION)
    monkeypatch.undo()
    assert done.merged == {"detections": 3, "images": 3}
    assert layout.table_part_key("images", PARTITION, late_id) in _hour_keys(store)
    expected = _expected([rows for _, rows in runs])
    assert _answers(deployment) == [expected, expected]
    table.compact_hour(store, PARTITION)
    assert len(_hour_keys(store)) == 2
    assert _answers(deployment) == [expected, expected]


def test_a_backfill_racing_a_late_run_keeps_its_part(bucket, deployment) -> None:
    """A backfill rewrites the hour from its records and deletes the parts that were there when it started; a run
    whose part lands while it reads the records keeps it, and its newer rows win."""
    store = deployment.store()
    rng = np.random.default_rng(11)
    whole = synthetic.hour_tables(HOUR, 30, rng)
    runs = _runs(whole, 2, 0.5, rng)
    for run_id, rows in runs[:-1]:
        table.write_part(store, PARTITION, run_id, rows)
    late_id, late = runs[-1]
    before = [rows for _, rows in runs[:-1]]

    def records_while_a_late_run_lands() -> table.HourTables:
        table.write_part(store, PARTITION, late_id, late)
        return table.latest(
            table.HourTables(
                detections=pa.concat_tables([rows.detections for rows in before]),
                images=pa.concat_tables([rows.images for rows in before]),
            )
        )

    table.rebuild_hour(store, PARTITION, records_while_a_late_run_lands)
    assert _hour_keys(store) == sorted(
        [layout.table_key(name, PARTITION) for name in layout.DETECTION_TABLES]
        + [layout.table_part_key(name, PARTITION, late_id) for name in layout.DETECTION_TABLES]
    )
    expected = _expected([rows for _, rows in runs])
    assert _answers(deployment) == [expected, expected]


def test_a_part_without_its_images_object_is_not_read_yet(bucket, deployment) -> None:
    """A run writes its detections part, then its images part: until the second lands (or if the run died between
    them), the first adds nothing, and a compaction leaves it for later."""
    store = deployment.store()
    rng = np.random.default_rng(3)
    whole = synthetic.hour_tables(HOUR, 20, rng)
    (first_id, first), (second_id, second) = _runs(whole, 2, 0.0, rng)
    table.write_part(store, PARTITION, first_id, first)
    store.put_bytes(
        layout.table_part_key("detections", PARTITION, second_id),
        _parquet(second.detections),
        "application/vnd.apache.parquet",
    )
    expected = _expected([first])
    assert _answers(deployment) == [expected, expected]
    done = table.compact_hour(store, PARTITION)
    assert done.merged == {"detections": 1, "images": 1}
    assert layout.table_part_key("detections", PARTITION, second_id) in _hour_keys(store)
    assert _answers(deployment) == [expected, expected]


def _parquet(rows: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(rows, buffer)
    return buffer.getvalue()


def test_bench_steps_measures_a_run_at_the_first_image_and_in_a_busy_hour(bucket, deployment, tmp_path) -> None:
    """`imgassets bench-steps` (small here: the bench's own figures are its output, not asserted): both points are
    measured on real S3, and the busy hour holds the images asked for."""
    out = tmp_path / "steps.json"
    result = deployment.cli("bench-steps", "--images", "3000", "--batch", "40", "--runs", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    assert (figures["images_before"], figures["batch"], figures["runs"]) == (3000, 40, 2)
    for point in ("first", "busy"):
        assert set(figures[point]) == {f"{s}_{k}_ms" for s in ("rollup", "table") for k in ("cpu", "wall")}
        assert all(value > 0 for value in figures[point].values())
    assert "roll-up (detection_summary)" in result.output and "after 3,000" in result.output
    steps = ObjectStore.from_settings(deployment.with_values(s3_bucket=f"{bucket}-steps").settings)
    busy = layout.partition_key(HOUR.replace(month=1, day=1, hour=1, year=2026))
    stored = steps.get_record(layout.summary_key(busy), Summary)
    assert stored.image_count == 3000 + 2 * 40 and stored.run_count == 3000 // 40 + 2
