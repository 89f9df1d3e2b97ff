"""The job that sensor runs and backfills execute."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

#: In-process: the four steps share one process, so the model loads once per run and no step pays a
#: subprocess start (seconds each); runs are the unit of parallelism (run queue concurrency).
image_batch_job = define_asset_job(
    "image_batch_job",
    selection=AssetSelection.groups("image_analytics"),
    executor_def=in_process_executor,
    description="Validate → detect → summarise one hour's batch (sensor) or the whole hour (backfill).",
    tags={"dagster/max_retries": 2, "dagster/retry_strategy": "FROM_FAILURE"},
)
