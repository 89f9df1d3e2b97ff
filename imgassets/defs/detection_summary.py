"""detection_summary: the hour's roll-up. A sensor run adds only its own shard's and manifest's counts to the hour's
stored roll-up state (`batch.hour_rollup`), so it costs the same early and late in a busy hour; a backfill rebuilds
it from every shard. Its check sits beside it."""

from collections import Counter

import dagster as dg

from imgassets.core import layout
from imgassets.core.records import Summary
from imgassets.core.viewer_routes import viewer_link
from imgassets.defs.batch import (
    GROUP,
    HOUR_ROLLUP_POOL,
    alert_failed_check,
    batch_manifest,
    class_table,
    hour_rollup,
    run_shard,
    store_rollup,
    unreadable_metadata,
)
from imgassets.defs.detections import DETECTIONS
from imgassets.defs.resource_types import AlertResource, PipelineResource, S3Resource

SUMMARY_COMPLETE = "summary_covers_all_detections"


def summary_complete_check(partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        SUMMARY_COMPLETE,
        asset="detection_summary",
        partitions_def=partitions,
        description="Sensor runs: the stored hour summary, read back, counts this run's results. Backfills: it counts "
        "every per-image detection record of the hour.",
    )


def detection_summary(
    context: dg.AssetExecutionContext, s3: S3Resource, pipeline: PipelineResource, alerts: AlertResource
) -> dg.MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    batch = batch_manifest(store, partition, context.run)
    # A sensor run folds in its own shard and manifest; a backfill rebuilds the roll-up from every shard.
    rolled = hour_rollup(store, partition, context.run, rebuild=batch is None or batch.mode != "batch")
    summary = store_rollup(store, rolled)
    unreadable = rolled.unreadable_shards | rolled.unreadable_manifests
    key = layout.summary_key(partition)

    own = run_shard(store, partition, context.run)
    if batch is not None and batch.mode == "batch" and own is not None:
        # A sensor run reads the stored summary back and checks that it counts this run's results: a run
        # overwriting it from a stale view of the shards would drop them. Counting every record of the hour is
        # left to backfills, as for detections.
        stored = store.get_record(key, Summary)
        check: dict[str, str | int] = {
            "scope": "batch",
            "run_images": len(own.images),
            "run_merged": int(own.run_id in stored.runs),
        }
        passed = own.run_id in stored.runs and stored.image_count >= len(own.images)
    else:
        detection_records = sum(1 for _ in store.list_keys(layout.detections_prefix(partition)))
        check = {"scope": "hour", "summary_images": summary.image_count, "detection_records": detection_records}
        passed = summary.image_count >= detection_records
    # A shard or manifest that cannot be read is left out of the merge, named, and fails the check.
    summary_check = dg.AssetCheckResult(
        check_name=SUMMARY_COMPLETE,
        passed=passed and not unreadable,
        metadata=check | unreadable_metadata(unreadable),
    )
    alert_failed_check(alerts, context, summary_check)
    return dg.MaterializeResult(
        metadata={
            "images": summary.image_count,
            "rejected": summary.rejected_count,
            "objects": summary.total_objects,
            "top_class": next(iter(summary.class_counts), "none"),
            "classes": dg.MetadataValue.md(class_table(Counter(summary.class_counts))),
            "summary": dg.MetadataValue.path(store.url(key)),
            "rollup": rolled.start,
            "folded": rolled.folded,
            "viewer": dg.MetadataValue.url(viewer_link(pipeline.viewer_url, "hour", partition=partition)),
        },
        check_results=[summary_check],
    )


def detection_summary_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The hour's roll-up asset, partitioned by `partitions`."""
    return dg.asset(
        deps=[DETECTIONS],
        partitions_def=partitions,
        group_name=GROUP,
        pool=HOUR_ROLLUP_POOL,
        kinds={"s3"},
        check_specs=[summary_complete_check(partitions)],
        description="Per-hour roll-up: objects per class, images per class, image/rejection/object totals "
        "(successor of the original 'label@hour' job). Each sensor run adds its own shard's counts to the hour's "
        "roll-up; a backfill rebuilds it from every shard.",
    )(detection_summary)
