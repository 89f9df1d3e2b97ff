"""detection_table: the hour as columnar tables (one row per detection, one per image) for queries across all
time. Its check sits beside it."""

import dagster as dg

from imgassets.core import layout, table
from imgassets.core.records import DetectionRecord
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import (
    GROUP,
    HOUR_ROLLUP_POOL,
    alert_failed_check,
    batch_manifest,
    hour_rollup,
    lineage,
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
        description="Sensor runs: every image of the hour's shards has a row, once. Backfills: the images table has "
        "one row per detection record of the hour. Either way the detections table has one row per detection of them.",
    )


def _batch_tables(
    store: ObjectStore, partition: str, own_runs: list[str]
) -> tuple[table.HourTables, dict[str, int | str]]:
    """A sensor run writes its own images into the stored hour (replacing older rows of them), and any image a
    shard lists that the table lacks (an earlier run's table step failed, or the hour predates the table). A shard
    is written when its run's detections are complete, so runs of the hour that overlap never add half a batch."""
    stored = table.read_hour(store, partition)
    present = set(stored.images.column("image_key").to_pylist()) if stored is not None else set()
    rolled = hour_rollup(store, partition, own_runs[0])
    listed = {image.image_key: image.detection_key for image in rolled.rollup.images}
    own = {image.image_key for image in rolled.rollup.images if image.run_id in own_runs}
    missing = [key for image, key in listed.items() if image not in present or image in own]
    # This run's own records, as its detections wrote them in this process; the rest from S3.
    records = {
        image.detection_key: record
        for image in rolled.rollup.images
        if image.image_key in own and (record := written_records.take((image.detection_key, image.run_id))) is not None
    }
    read, unreadable = store.read_each([key for key in missing if key not in records], DetectionRecord)
    records |= read
    tables = table.merge(stored, table.from_records(list(records.values())))
    in_table = set(tables.images.column("image_key").to_pylist())
    audit: dict[str, int | str] = {
        "scope": "batch",
        "shard_images": len(listed),
        "shard_images_missing": sum(1 for image in listed if image not in in_table),
        "added": len(records),
    }
    return tables, audit | unreadable_metadata(rolled.unreadable_shards | unreadable)


def _hour_tables(store: ObjectStore, partition: str) -> tuple[table.HourTables, dict[str, int | str]]:
    """A backfill rebuilds the hour from every detection record of it."""
    keys = list(store.list_keys(layout.detections_prefix(partition)))
    records, unreadable = store.read_each(keys, DetectionRecord)
    audit: dict[str, int | str] = {"scope": "hour", "detection_records": len(keys)}
    return table.from_records(list(records.values())), audit | unreadable_metadata(unreadable)


def detection_table(context: dg.AssetExecutionContext, s3: S3Resource, alerts: AlertResource) -> dg.MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    batch = batch_manifest(store, partition, context.run)
    if batch is not None and batch.mode == "batch":
        tables, audit = _batch_tables(store, partition, lineage(context.run))
        complete = audit["shard_images_missing"] == 0
    else:
        tables, audit = _hour_tables(store, partition)
        complete = tables.images.num_rows == audit["detection_records"]
    complete = complete and "unreadable_records" not in audit
    written = table.write_hour(store, partition, tables)
    keys = tables.images.column("image_key").to_pylist()
    objects = table.objects(tables)
    check = dg.AssetCheckResult(
        check_name=TABLE_ROWS,
        passed=complete and len(keys) == len(set(keys)) and tables.detections.num_rows == objects,
        metadata=audit
        | {"image_rows": len(keys), "detection_rows": tables.detections.num_rows, "objects_in_images": objects},
    )
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        metadata={
            "scope": audit["scope"],
            "images": tables.images.num_rows,
            "detections": tables.detections.num_rows,
            "parquet_bytes": sum(written.values()),
            "detections_table": dg.MetadataValue.path(store.url(layout.table_key("detections", partition))),
            "images_table": dg.MetadataValue.path(store.url(layout.table_key("images", partition))),
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
        "query` and the viewer's search read. One object per hour and table, rewritten whole, so replays and "
        "backfills replace rows.",
    )(detection_table)
