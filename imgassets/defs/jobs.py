"""The job that sensor runs and backfills execute."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from imgassets.defs.batch import GROUP

#: The assets a sensor run materializes: the group but `tracks`, which re-tracks its whole hour, so its cost would
#: grow with the hour in every run; hour_tracks_sensor (defs/track_sensor.py) tracks changed hours on a clock.
#: A backfill of the group from the UI still includes `tracks`.
BATCH_ASSETS = AssetSelection.groups(GROUP) - AssetSelection.assets("tracks")

#: In-process: the three steps share one process, so the model loads once per run and no step pays a
#: subprocess start (seconds each); runs are the unit of parallelism (run queue concurrency).
image_batch_job = define_asset_job(
    "image_batch_job",
    selection=BATCH_ASSETS,
    executor_def=in_process_executor,
    description="Validate → detect → summarise one hour's batch (sensor) or the whole hour (backfill).",
    tags={"dagster/max_retries": 2, "dagster/retry_strategy": "FROM_FAILURE"},
)
