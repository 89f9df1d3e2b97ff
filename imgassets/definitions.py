"""The Dagster code location (`workspace.yaml` and the compose code server load this module).

It loads `defs/` by domain: one module per asset with its checks, the Kafka sensor, the run status sensors, the
jobs, the run retention schedule and the resources, listed here by hand (the project is not a `dg` project: `dg`'s
autoloading would take the asset specs that `image_batch`'s multi-asset shares for asset definitions of their
own). Nothing runs at import: Dagster calls `defs()` when it loads the code location, and that needs no
credentials (secrets are `EnvVar`s, resolved by the runs and ticks that use them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource, Definitions, definitions, in_process_executor

if TYPE_CHECKING:
    from imgassets.core.settings import Settings


@definitions
def defs() -> Definitions:
    from dotenv import load_dotenv

    from imgassets.core.settings import env_file, get_settings

    # EnvVar secrets are read from the process environment, so values kept in .env must be there too.
    load_dotenv(env_file(), override=False)
    return build_definitions(get_settings())


def build_definitions(settings: Settings, **resources: ConfigurableResource) -> Definitions:
    """The code location of `settings`: every setting reaches the definitions here, when Dagster loads them (the
    partitions' start and the sensors' intervals, which Dagster reads from the definitions) or through the
    resources (everything else); `resources` replace whole resources (tests)."""
    from imgassets.defs.compaction import compact_tables_job, table_compaction_sensor
    from imgassets.defs.detection_summary import detection_summary_asset
    from imgassets.defs.detection_table import detection_table_asset
    from imgassets.defs.image_batch import image_batch_asset
    from imgassets.defs.jobs import image_batch_job
    from imgassets.defs.kafka_sensor import kafka_image_sensor
    from imgassets.defs.partitions import hourly_partitions
    from imgassets.defs.resource_types import DetectorResource
    from imgassets.defs.resources import pipeline_resources
    from imgassets.defs.retention import partitioned, purge_runs_job, purge_runs_schedule
    from imgassets.defs.run_failures import canceled_batch_sensor, failed_batch_sensor
    from imgassets.defs.track_sensor import hour_tracks_job, hour_tracks_sensor
    from imgassets.defs.tracks import tracks_asset
    from imgassets.defs.version_assets import version_assets

    partitions = hourly_partitions(settings.partitions_start)
    # Each detector version other than the active one has its assets (filled by backfills).
    others = DetectorResource.from_settings(settings).versions().others
    versions = [asset for version in others for asset in version_assets(version, partitions)]
    assets = [
        image_batch_asset(partitions),
        detection_summary_asset(partitions),
        detection_table_asset(partitions),
        tracks_asset(partitions),
        *versions,
    ]
    # Finished runs past IMGASSETS_RUN_RETENTION_DAYS (which reaches it through `pipeline`) are deleted hourly.
    purge_job = purge_runs_job(partitioned(assets))
    return Definitions(
        assets=assets,
        jobs=[image_batch_job, compact_tables_job, hour_tracks_job, purge_job],
        schedules=[purge_runs_schedule(purge_job)],
        sensors=[
            kafka_image_sensor(partitions, settings.sensor_interval_seconds),
            failed_batch_sensor,
            canceled_batch_sensor,
            table_compaction_sensor,
            hour_tracks_sensor(partitions, settings.tracks_interval_seconds),
        ],
        # Materializations and backfills launched from the asset graph run in process too, like image_batch_job.
        executor=in_process_executor,
        resources=pipeline_resources(settings, **resources),
    )
