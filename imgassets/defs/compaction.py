"""Compaction of the hour's tables: the runs' parts (each sensor run appends its own, imgassets/core/table.py)
merged into one object per hour and table, so queries read few objects. A sensor requests a compaction of an hour
still filling once it has `table_compact_parts` parts, and of a closed hour as soon as it has any; the job runs in
the `hour_rollup` pool, so it never overlaps another writer of the hour's compacted objects."""

from datetime import timedelta

import dagster as dg

from imgassets.core import layout, table
from imgassets.defs.batch import HOUR_ROLLUP_POOL, hour_rollup, now, recent_hours, store_rollup
from imgassets.defs.resource_types import PipelineResource, S3Resource

#: A closed hour waits this long for its last runs before it is compacted (a later part is merged next time).
CLOSED_AFTER = timedelta(minutes=5)


class CompactionConfig(dg.Config):
    #: The hour whose tables are compacted (a partition key, e.g. 2026-11-25-04:00).
    partition: str
    #: Whether the hour has closed: its roll-up is then rebuilt from every shard, so its final counts are exact.
    closed: bool = False


@dg.op(
    pool=HOUR_ROLLUP_POOL,
    description="Merges the hour's table parts into its compacted objects; for a closed hour, first rebuilds its "
    "roll-up from every shard.",
)
def compact_tables(context: dg.OpExecutionContext, config: CompactionConfig, s3: S3Resource) -> None:
    store = s3.store()
    if config.closed:
        # Exact final counts: every run's shard, each image's latest result (a run whose summary step failed for
        # good, an image that reached two runs unnoticed).
        rolled = hour_rollup(store, config.partition, None)
        summary = store_rollup(store, rolled)
        context.log.info(f"{config.partition}: roll-up {rolled.start} from {rolled.folded} shards and manifests")
        for key, reason in (rolled.unreadable_shards | rolled.unreadable_manifests).items():
            context.log.warning(f"{key} cannot be read ({reason}): left out of {summary.partition}'s counts")
    done = table.compact_hour(store, config.partition)
    context.log.info(
        f"{config.partition}: merged {done.merged.get('images', 0)} parts into {done.images} images, "
        f"{done.detections} detections ({done.written_bytes} bytes)"
    )


@dg.job(description="Compacts one hour's tables (requested by table_compaction_sensor).")
def compact_tables_job() -> None:
    compact_tables()


@dg.sensor(
    job=compact_tables_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests a compaction of each recent hour whose tables have enough runs' parts, or are closed.",
)
def table_compaction_sensor(
    context: dg.SensorEvaluationContext, s3: S3Resource, pipeline: PipelineResource
) -> dg.SensorResult | dg.SkipReason:
    store = s3.store()
    requests = []
    for hour in recent_hours(pipeline.table_compact_lookback_hours):
        partition = layout.partition_key(hour)
        parts = sorted(
            key for key in table.hour_objects(store, partition)["images"] if layout.parse_table_key(key).run_id
        )
        closed = now() >= hour + timedelta(hours=1) + CLOSED_AFTER
        if parts and (closed or len(parts) >= pipeline.table_compact_parts):
            requests.append(
                dg.RunRequest(
                    # Once per set of parts: a tick that sees the same parts again (the run is still queued) skips.
                    run_key=f"{partition}:{len(parts)}:{parts[-1]}:{closed}",
                    run_config={"ops": {"compact_tables": {"config": {"partition": partition, "closed": closed}}}},
                    tags={"imgassets/partition": partition},
                )
            )
    if not requests:
        return dg.SkipReason("no hour's tables need compacting")
    return dg.SensorResult(run_requests=requests)
