"""detection_table: the hour as columnar tables (one row per detection, one per image) for queries across all
time. Its check sits beside it."""

import dagster as dg

from imgassets.core import layout, table
from imgassets.core.layout import DETECTION_TABLES
from imgassets.core.records import DetectionRecord
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import (
    GROUP,
    HOUR_ROLLUP_POOL,
    alert_failed_check,
    batch_manifest,
    run_shard,
    unreadable_metadata,
    written_records,
)
from imgassets.defs.detections import DETECTIONS
from imgassets.defs.resource_types import AlertResource, S3Resource

TABLE_ROWS = "table_rows_match_detection_records"


def table_rows_check(partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        TABLE_ROWS,
        asset="detection_table",
        partitions_def=partitions,
        description="Sensor runs: every image of the run's shard has a row in the run's part, once. Backfills: the "
        "images table has one row per detection record of the hour. Either way the detections table has one row per "
        "detection of them.",
    )


def run_part(
    store: ObjectStore, partition: str, run: dg.DagsterRun
) -> tuple[str | None, table.HourTables, dict[str, int | str]]:
    """A sensor run's own rows: the images of its shard (written by this run or the one it re-executes), each
    record as its detections step wrote it in this process, else read from S3. Only the run's own images: the
    step costs the same at the hour's first image and at its 200,000th."""
    shard = run_shard(store, partition, run)
    if shard is None:
        return None, table.from_records([]), {"scope": "batch", "shard_images": 0, "shard_images_missing": 0}
    records = {
        image.detection_key: record
        for image in shard.images
        if (record := written_records.take((image.detection_key, shard.run_id))) is not None
    }
    missing = [image.detection_key for image in shard.images if image.detection_key not in records]
    read, unreadable = store.read_each(missing, DetectionRecord)
    records |= read
    tables = table.from_records(list(records.values()))
    in_part = set(tables.images.column("image_key").to_pylist())
    audit: dict[str, int | str] = {
        "scope": "batch",
        "shard_images": len(shard.images),
        "shard_images_missing": sum(1 for image in shard.images if image.image_key not in in_part),
        "added": tables.images.num_rows,
    }
    return shard.run_id, tables, audit | unreadable_metadata(unreadable)


def _hour_tables(store: ObjectStore, partition: str, audit: dict[str, int | str]) -> table.HourTables:
    """A backfill rebuilds the hour from every detection record of it (counted into `audit`)."""
    keys = list(store.list_keys(layout.detections_prefix(partition)))
    records, unreadable = store.read_each(keys, DetectionRecord)
    audit |= {"scope": "hour", "detection_records": len(keys)}
    audit |= unreadable_metadata(unreadable)
    return table.from_records(list(records.values()))


def detection_table(context: dg.AssetExecutionContext, s3: S3Resource, alerts: AlertResource) -> dg.MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    batch = batch_manifest(store, partition, context.run)
    audit: dict[str, int | str]
    if batch is not None and batch.mode == "batch":
        run_id, tables, audit = run_part(store, partition, context.run)
        written = table.write_part(store, partition, run_id, tables) if run_id is not None else {}
        keys = {name: layout.table_part_key(name, partition, run_id) for name in DETECTION_TABLES} if run_id else {}
        complete = audit["shard_images_missing"] == 0
    else:
        audit = {}
        tables, written = table.rebuild_hour(store, partition, lambda: _hour_tables(store, partition, audit))
        keys = {name: layout.table_key(name, partition) for name in DETECTION_TABLES}
        complete = tables.images.num_rows == audit["detection_records"]
    complete = complete and "unreadable_records" not in audit
    image_keys = tables.images.column("image_key").to_pylist()
    objects = table.objects(tables)
    check = dg.AssetCheckResult(
        check_name=TABLE_ROWS,
        passed=complete and len(image_keys) == len(set(image_keys)) and tables.detections.num_rows == objects,
        metadata=audit
        | {"image_rows": len(image_keys), "detection_rows": tables.detections.num_rows, "objects_in_images": objects},
    )
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        metadata={
            "scope": audit["scope"],
            "images": tables.images.num_rows,
            "detections": tables.detections.num_rows,
            "parquet_bytes": sum(written.values()),
            **{f"{name}_table": dg.MetadataValue.path(store.url(key)) for name, key in keys.items()},
        },
        check_results=[check],
    )


def detection_table_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The hour's tables asset, partitioned by `partitions`."""
    return dg.asset(
        deps=[DETECTIONS],
        partitions_def=partitions,
        group_name=GROUP,
        pool=HOUR_ROLLUP_POOL,
        kinds={"parquet", "s3"},
        check_specs=[table_rows_check(partitions)],
        description="The hour as two Parquet tables in S3 (tables/detections/…, tables/images/…): what `imgassets "
        "query` and the viewer's search read. Each sensor run appends its own images' rows as its own part; a "
        "compaction merges an hour's parts; a backfill rewrites the hour. Each image counts once (its latest row).",
    )(detection_table)
