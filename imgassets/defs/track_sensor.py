"""Tracks on a clock. `tracks` re-tracks its whole hour from the hour's detection table, so in every sensor run its
cost would grow with the hour (a busy hour: quadratic). Instead this sensor ticks every
IMGASSETS_TRACKS_INTERVAL_SECONDS and requests a run of `hour_tracks_job` for each recent hour whose table changed
since it last requested one: an hour still filling is tracked at most once per interval, and a closed hour once
more after its last change (its last run's part, then its closing compaction). Tracking costs grow with time and
the hours' sizes, not with how many runs brought them; tracks lag by up to the interval plus the tracking time.

"Changed" is the hour's table listing (`table.hour_signature`: keys, ETags and sizes, one LIST per table). The
cursor keeps the signature last requested per hour, so an unchanged hour requests nothing; the run key is the
same signature, so a lost or reset cursor still launches no second run for a table already tracked (Dagster skips
a run key it has seen). An hour whose tracks run has not finished waits for it: runs never pile up behind a slow
hour, and the next tick requests one more run if the table changed meanwhile."""

import json

import dagster as dg

from imgassets.core import layout, table
from imgassets.defs.batch import recent_hours
from imgassets.defs.kafka_sensor import minimum_interval
from imgassets.defs.resource_types import PipelineResource, S3Resource

#: In process, and retried from failure, like image_batch_job: a run re-tracks the whole hour, so a retry is a
#: replay. The `tracks` asset's pool (`hour_rollup`) keeps it from overlapping another writer of the hour.
hour_tracks_job = dg.define_asset_job(
    "hour_tracks_job",
    selection=dg.AssetSelection.assets("tracks"),
    executor_def=dg.in_process_executor,
    description="Tracks one hour from its detection table (requested by hour_tracks_sensor).",
    tags={"dagster/max_retries": 2, "dagster/retry_strategy": "FROM_FAILURE"},
)

#: A run in one of these has not read its hour's table yet, or is reading it: its hour waits.
_UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def _hours_in_progress(context: dg.SensorEvaluationContext) -> set[str]:
    runs = context.instance.get_runs(dg.RunsFilter(job_name=hour_tracks_job.name, statuses=_UNFINISHED))
    return {run.tags["dagster/partition"] for run in runs if "dagster/partition" in run.tags}


def hour_tracks_sensor(partitions: dg.HourlyPartitionsDefinition, interval_seconds: int) -> dg.SensorDefinition:
    """The sensor over the assets' `partitions`, ticking every `interval_seconds` (IMGASSETS_TRACKS_INTERVAL_SECONDS,
    which Dagster reads from the definition, so definitions.py passes it when the code loads)."""
    first_hour = layout.parse_partition(layout.partition_key(partitions.start))

    @dg.sensor(
        name="hour_tracks_sensor",
        job=hour_tracks_job,
        minimum_interval_seconds=minimum_interval(interval_seconds),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Requests the tracks of each recent hour whose detection table changed since it was last tracked.",
    )
    def evaluate(
        context: dg.SensorEvaluationContext, s3: S3Resource, pipeline: PipelineResource
    ) -> dg.SensorResult | dg.SkipReason:
        store = s3.store()
        requested: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        busy = _hours_in_progress(context)
        kept: dict[str, str] = {}
        requests = []
        for hour in recent_hours(pipeline.table_compact_lookback_hours):
            if hour < first_hour:
                break
            partition = layout.partition_key(hour)
            if partition in requested:
                kept[partition] = requested[partition]
            if partition in busy:
                continue
            signature = table.hour_signature(store, partition)
            if signature is None or signature == requested.get(partition):
                continue
            kept[partition] = signature
            requests.append(dg.RunRequest(run_key=f"{partition}:{signature}", partition_key=partition))
        if not requests:
            return dg.SkipReason("no recent hour's detection table changed since it was tracked")
        # Only the hours still looked at are kept: the cursor stays as small as the lookback.
        return dg.SensorResult(run_requests=requests, cursor=json.dumps(kept, sort_keys=True))

    return evaluate
