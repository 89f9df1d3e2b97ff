"""The tracks asset on a temporary Dagster instance against the real S3 server and broker: a clip of known truth
ingested frame by frame (in reverse order, so frames arrive out of capture order), its sensor runs (which leave
tracks alone) each followed by the tracks sensor's run of the hour so far, the tracks documents and tables, a
backfill that changes nothing, and a source that fails costing only itself."""

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, Definitions, SensorResult, build_sensor_context, materialize

from imgassets.core import layout
from imgassets.core.records import Box, SourceTracks, TrackSummary
from imgassets.core.sources import load_sources
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.detection_table import detection_table_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.defs.jobs import image_batch_job
from imgassets.defs.track_sensor import hour_tracks_job, hour_tracks_sensor
from imgassets.defs.tracks import track_hour, tracked_check, tracks_asset
from imgassets.devtools.synthetic_clips import make_clip
from imgassets.ingest import announce, media
from imgassets.reading.query import Catalog, HourRange
from imgassets.reading.source_pages import source_page
from imgassets.tracking.follow import Frame, Sighting
from imgassets_tests import helpers

pytestmark = pytest.mark.integration
ASSETS = [
    image_batch_asset(helpers.PARTITIONS),
    detection_summary_asset(helpers.PARTITIONS),
    detection_table_asset(helpers.PARTITIONS),
    tracks_asset(helpers.PARTITIONS),
]
SOURCE = "cam-gate-test"
TRACKS_SENSOR = hour_tracks_sensor(helpers.PARTITIONS, interval_seconds=0)


def _backfill(deployment: helpers.Deployment, instance: DagsterInstance, partition: str):
    """What a backfill of the group launched from the UI runs: every asset, the whole hour."""
    outcome = materialize(ASSETS, partition_key=partition, resources=deployment.resources(), instance=instance)
    assert outcome.success
    return outcome


def _jobs(deployment: helpers.Deployment) -> Definitions:
    """The code location's two jobs over the assets: a sensor run's, and the tracks sensor's."""
    return Definitions(assets=ASSETS, jobs=[image_batch_job, hour_tracks_job], resources=deployment.resources())


def test_a_clip_is_tracked_after_each_sensor_run_and_a_backfill_changes_nothing(
    topics, store, deployment, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path)
    sources = tmp_path / "sources.toml"
    sources.write_text(clip.sources_toml(SOURCE))
    deployment = deployment.with_values(sources_file=sources, batch_max_images=40)
    producer = deployment.producer()
    try:
        items = list(media.path_items([clip.path], every_seconds=1 / clip.fps))
        report = announce.Ingestor(store, producer, deployment.settings.kafka_topic, SOURCE).ingest_many(items[::-1])
    finally:
        producer.close()
    assert len(report.sent) == clip.frames and not report.failed

    instance = DagsterInstance.ephemeral()
    jobs = _jobs(deployment)
    requests = helpers.tick(build_sensor_context(resources=deployment.resources(), instance=instance)).run_requests
    assert len(requests) >= 3  # 96 frames in batches of at most 40
    cursor = None
    for request in requests:
        partition = helpers.partition_of(request)
        outcome = jobs.resolve_job_def(image_batch_job.name).execute_in_process(
            run_config=request.run_config, partition_key=partition, instance=instance
        )
        assert outcome.success
        assert AssetKey("tracks") not in {e.asset_key for e in outcome.get_asset_materialization_events()}
        # The tracks sensor's next tick sees the hour's table changed: its run tracks the hour so far.
        tick = TRACKS_SENSOR(build_sensor_context(cursor=cursor, resources=deployment.resources(), instance=instance))
        assert isinstance(tick, SensorResult) and tick.run_requests, tick
        assert [r.partition_key for r in tick.run_requests] == [partition]
        cursor = tick.cursor
        tracked = jobs.resolve_job_def(hour_tracks_job.name).execute_in_process(
            partition_key=partition, instance=instance
        )
        checks = helpers.check_results(tracked)
        assert checks["every_source_tracked"][0], checks["every_source_tracked"]
    partitions = sorted({helpers.partition_of(request) for request in requests})

    documents = [store.get_record(layout.tracks_key(p, SOURCE), SourceTracks) for p in partitions]
    assert sum(document.counts.frames for document in documents) == clip.frames
    distinct = {(track.label, track.track_id) for document in documents for track in document.tracks}
    assert dict(Counter(label for label, _ in distinct)) == clip.unique()
    crossings = [c.direction for d in documents for t in d.tracks for c in t.crossings]
    assert {"in": crossings.count("in"), "out": crossings.count("out")} == clip.crossing_counts()
    summary = store.get_record(layout.track_summary_key(partitions[-1]), TrackSummary)
    assert summary.sources[SOURCE] == documents[-1].counts and summary.version == "default"

    # The tables answer the same, through the catalog `imgassets query` uses.
    hours = HourRange(
        layout.parse_partition(partitions[0]), layout.parse_partition(partitions[-1]) + timedelta(hours=1)
    )
    catalog = Catalog(deployment.settings)
    rows = catalog.query(
        "SELECT label, count(DISTINCT track_id) AS n FROM tracks WHERE source = ? GROUP BY 1", hours, [SOURCE]
    ).to_pylist()
    assert {row["label"]: row["n"] for row in rows} == clip.unique()
    events = catalog.query(
        "SELECT direction, count(*) AS n FROM events WHERE source = ? AND kind = 'crossing' GROUP BY 1", hours, [SOURCE]
    ).to_pylist()
    assert {row["direction"]: row["n"] for row in events} == clip.crossing_counts()
    # … and so does the source page's answer (the query endpoint's GET /sources/{name}).
    page = source_page(store, catalog, SOURCE, hours)
    assert page.unique_objects == clip.unique()
    assert {
        direction: getattr(page.crossings["gate"], field) for direction, field in (("in", "in_"), ("out", "out"))
    } == (clip.crossing_counts())
    assert page.event_count == len(page.events) == sum(clip.crossing_counts().values()) + sum(clip.zone_visits.values())
    assert page.strip and all(box.track_id for frame in page.strip for box in frame.boxes)

    # A backfill of the hours (every asset of the group, the whole hour each, no run config) gives the same tracks,
    # ids included.
    for partition in partitions:
        _backfill(deployment, instance, partition)
    again = [store.get_record(layout.tracks_key(p, SOURCE), SourceTracks) for p in partitions]
    assert [d.model_dump(exclude={"generated_at"}) for d in again] == [
        d.model_dump(exclude={"generated_at"}) for d in documents
    ]


def test_a_source_whose_tracking_fails_costs_only_itself(store, deployment) -> None:
    """One source's frames break the tracker (a frame of width 0): its reason is kept, the other source is
    tracked and written, and the check fails naming it."""
    partition = "2026-12-06-10:00"
    person = Sighting("person", 0.9, Box(x=10, y=10, w=50, h=120))

    def walk(name: str, width: int) -> list[Frame]:
        return [
            Frame(
                f"images/2026/12/06/10/0123456789ab-{name}{i}.jpg",
                datetime(2026, 12, 6, 10, 5, i, tzinfo=UTC),
                width,
                480,
                (person,),
            )
            for i in range(3)
        ]

    def frames(hour: str) -> dict[str, list[Frame]]:
        return {"good": walk("good", 640), "bad": walk("bad", 0)} if hour == partition else {}

    tracked = track_hour(store, partition, frames, load_sources(None), "default", None)
    assert [document.source for document in tracked.documents] == ["good"]
    assert "ZeroDivisionError" in tracked.failed["bad"]
    assert store.get_optional(layout.tracks_key(partition, "good")) is not None
    assert store.get_optional(layout.tracks_key(partition, "bad")) is None
    assert store.get_record(layout.track_summary_key(partition), TrackSummary).failed == tracked.failed
    assert not tracked_check(tracked, partition).passed

    # Its stored document damaged too: still only that source is failed, the damage noted.
    damaged = layout.tracks_key(partition, "bad")
    store.put_bytes(damaged, b"{not json", "application/json")
    again = track_hour(store, partition, frames, load_sources(None), "default", None)
    assert [document.source for document in again.documents] == ["good"] and set(again.failed) == {"bad"}
    assert not again.kept and damaged in again.unreadable
