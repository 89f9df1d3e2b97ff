"""hour_tracks_sensor on the real S3 server: it requests the tracks of an hour whose detection table changed,
nothing while the table stays the same or while the hour's tracks run has not finished, again once a new run's part
appears, never for an hour past the lookback; and the run it requests writes the hour's tracks."""

from datetime import datetime, timedelta

import numpy as np
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    Definitions,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
)
from dagster._core.test_utils import create_run_for_test

from imgassets.core import layout, table
from imgassets.core.records import TrackSummary
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import now
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.detection_table import detection_table_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.defs.track_sensor import hour_tracks_job, hour_tracks_sensor
from imgassets.defs.tracks import tracks_asset
from imgassets.devtools import synthetic
from imgassets_tests import helpers

pytestmark = pytest.mark.integration
#: The sensor as the tests tick it (its interval matters only to Dagster's daemon).
SENSOR = hour_tracks_sensor(helpers.PARTITIONS, interval_seconds=0)
IMAGES_PER_PART = 40


def _tick(deployment: helpers.Deployment, instance: DagsterInstance, cursor: str | None) -> SensorResult | SkipReason:
    result = SENSOR(build_sensor_context(cursor=cursor, resources=deployment.resources(), instance=instance))
    assert isinstance(result, SensorResult | SkipReason), result
    return result


def _requests(result: SensorResult | SkipReason) -> list[RunRequest]:
    assert isinstance(result, SensorResult) and result.run_requests, result
    return list(result.run_requests)


def _append_part(store: ObjectStore, hour: datetime, run_id: str, seed: int) -> None:
    """A sensor run's part of the hour's tables: IMAGES_PER_PART synthetic images and their detections."""
    rows = synthetic.hour_tables(hour, IMAGES_PER_PART, np.random.default_rng(seed))
    table.write_part(store, layout.partition_key(hour), run_id, rows)


def test_the_tracks_sensor_requests_an_hour_once_per_change_of_its_table(store, deployment) -> None:
    deployment = deployment.with_values(table_compact_lookback_hours=3)
    instance = DagsterInstance.ephemeral()
    hour = layout.floor_hour(now())
    partition = layout.partition_key(hour)
    # An hour before the lookback (the current one and the two before it): never requested.
    _append_part(store, hour - timedelta(hours=3), "run-old", 1)
    assert isinstance(_tick(deployment, instance, None), SkipReason)

    _append_part(store, hour, "run-a", 2)
    first = _tick(deployment, instance, None)
    (request,) = _requests(first)
    assert request.partition_key == partition
    assert request.run_key == f"{partition}:{table.hour_signature(store, partition)}"

    # The same table again: nothing. A lost cursor asks again under the same run key, which Dagster skips.
    assert isinstance(first, SensorResult)
    assert isinstance(_tick(deployment, instance, first.cursor), SkipReason)
    assert [r.run_key for r in _requests(_tick(deployment, instance, None))] == [request.run_key]

    # A new run's part: the hour is requested again.
    _append_part(store, hour, "run-b", 3)
    changed = _tick(deployment, instance, first.cursor)
    (again,) = _requests(changed)
    assert again.partition_key == partition and again.run_key != request.run_key

    # The requested run materializes only `tracks`, which tracks every image of both parts.
    defs = Definitions(
        assets=[
            image_batch_asset(helpers.PARTITIONS),
            detection_summary_asset(helpers.PARTITIONS),
            detection_table_asset(helpers.PARTITIONS),
            tracks_asset(helpers.PARTITIONS),
        ],
        jobs=[hour_tracks_job],
        resources=deployment.resources(),
    )
    outcome = defs.resolve_job_def(hour_tracks_job.name).execute_in_process(
        partition_key=again.partition_key, instance=instance
    )
    assert outcome.success
    assert {event.asset_key for event in outcome.get_asset_materialization_events()} == {AssetKey("tracks")}
    assert helpers.check_results(outcome)["every_source_tracked"][0]
    summary = store.get_record(layout.track_summary_key(partition), TrackSummary)
    assert sum(counts.frames for counts in summary.sources.values()) == 2 * IMAGES_PER_PART

    # While the hour's tracks run has not finished, the hour waits (that run may still read the latest table); once
    # it has, the change it may have missed is requested.
    assert isinstance(changed, SensorResult)
    waiting = create_run_for_test(
        instance, job_name=hour_tracks_job.name, status=DagsterRunStatus.STARTED, tags={"dagster/partition": partition}
    )
    _append_part(store, hour, "run-c", 4)
    assert isinstance(_tick(deployment, instance, changed.cursor), SkipReason)
    instance.delete_run(waiting.run_id)
    (latest,) = _requests(_tick(deployment, instance, changed.cursor))
    assert latest.run_key == f"{partition}:{table.hour_signature(store, partition)}" != again.run_key
