"""detection_table: the hour as columnar tables (one row per detection, one per image) for queries across all
time. Its check sits beside it."""

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from imgassets import layout, table
from imgassets.defs.batch import GROUP, alert_failed_check, batch_manifest, lineage
from imgassets.defs.detections import detections
from imgassets.defs.partitions import hourly_partitions
from imgassets.records import DetectionRecord, Shard
from imgassets.resources import AlertResource, S3Resource
from imgassets.storage import ObjectStore

TABLE_ROWS_CHECK = AssetCheckSpec(
    "table_rows_match_detection_records",
    asset="detection_table",
    description="The images table has one row per detection record of the hour, and the detections table one row "
    "per detection in them.",
)


def _tables(store: ObjectStore, context: AssetExecutionContext) -> tuple[table.HourTables, str]:
    """A sensor run adds its own results to the stored hour; a backfill (or a stored hour that lost rows) is
    rebuilt from every detection record of the hour."""
    partition = context.partition_key
    batch = batch_manifest(store, partition, context.run)
    if batch is not None and batch.mode == "batch":
        shards = {shard.run_id: shard for shard in store.get_records(layout.shards_prefix(partition), Shard)}
        own = next((shards[run_id] for run_id in lineage(context.run) if run_id in shards), None)
        if own is not None:
            keys = [result.detection_key for result in own.images]
            added = table.from_records(store.read_records(keys, DetectionRecord))
            return table.merge(table.read_hour(store, partition), added), "batch"
    return table.from_records(store.get_records(layout.detections_prefix(partition), DetectionRecord)), "hour"


@asset(
    deps=[detections],
    partitions_def=hourly_partitions,
    group_name=GROUP,
    kinds={"parquet", "s3"},
    check_specs=[TABLE_ROWS_CHECK],
    description="The hour as two Parquet tables in S3 (tables/detections/…, tables/images/…): what `imgassets "
    "query` and the viewer's search read. One object per hour and table, rewritten whole, so replays and "
    "backfills replace rows.",
)
def detection_table(context: AssetExecutionContext, s3: S3Resource, alerts: AlertResource) -> MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    tables, scope = _tables(store, context)
    records = sum(1 for _ in store.list_keys(layout.detections_prefix(partition)))
    if scope == "batch" and tables.images.num_rows != records:
        context.log.warning(
            f"stored table of {partition} has {tables.images.num_rows} images for {records} detection records: "
            "rebuilding it from all records"
        )
        tables = table.from_records(store.get_records(layout.detections_prefix(partition), DetectionRecord))
        scope = "hour (repaired)"
    written = table.write_hour(store, partition, tables)
    objects = table.objects(tables)
    check = AssetCheckResult(
        check_name=TABLE_ROWS_CHECK.name,
        passed=tables.images.num_rows == records and tables.detections.num_rows == objects,
        metadata={
            "image_rows": tables.images.num_rows,
            "detection_records": records,
            "detection_rows": tables.detections.num_rows,
            "objects_in_images": objects,
        },
    )
    alert_failed_check(alerts, context, check)
    return MaterializeResult(
        metadata={
            "scope": scope,
            "images": tables.images.num_rows,
            "detections": tables.detections.num_rows,
            "parquet_bytes": sum(written.values()),
            "detections_table": MetadataValue.path(f"s3://{store.bucket}/{layout.table_key('detections', partition)}"),
            "images_table": MetadataValue.path(f"s3://{store.bucket}/{layout.table_key('images', partition)}"),
        },
        check_results=[check],
    )
