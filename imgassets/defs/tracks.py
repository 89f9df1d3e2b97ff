"""tracks: each source's detections of the hour, followed into objects (imgassets/tracking/follow.py), with the line
crossings and zone visits of sources.toml; and the hour's `tracks` and `events` tables. Its check sits beside it.

Every run of the hour tracks the whole hour again from its detection table, so frames that arrive late or out of
order are simply in the next run's input, in capture order: the tracks of an hour depend only on its frames and the
previous hour's last seconds, never on arrival. Since that costs the whole hour, sensor runs leave it out
(defs/jobs.py): hour_tracks_sensor (defs/track_sensor.py) requests it every IMGASSETS_TRACKS_INTERVAL_SECONDS for
each hour whose table changed, and once more after the hour's last change, so tracks lag by up to the interval plus
the tracking time. A backfill of the group includes it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import ValidationError

from imgassets.core import failures, layout, table
from imgassets.core.records import SourceTracks, TrackSummary
from imgassets.core.sources import Sources
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import GROUP, HOUR_ROLLUP_POOL, alert_failed_check, now
from imgassets.defs.resource_types import AlertResource, DetectorResource, S3Resource, TrackingResource
from imgassets.tracking import tables
from imgassets.tracking.follow import Frame, tail, track_source


def tracked_spec(asset: dg.AssetKey, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        "every_source_tracked",
        asset=asset,
        partitions_def=partitions,
        description="Every source with frames in the hour has its track document, and every track lists only "
        "frames of the hour.",
    )


#: An hour's frames by source (from its detection table, or a detector version's records).
FramesOf = Callable[[str], dict[str, list[Frame]]]


def previous_partition(partition: str) -> str:
    return layout.partition_key(layout.parse_partition(partition) - timedelta(hours=1))


@dataclass
class TrackedHour:
    """What tracking an hour wrote, and what it could not do (source → reason)."""

    documents: list[SourceTracks] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: The stored documents of sources that failed this time.
    kept: list[SourceTracks] = field(default_factory=list)
    #: Stored documents that could not be read (key → reason).
    unreadable: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0

    def metadata(self) -> dict[str, Any]:
        counts = {doc.source: doc.counts.model_dump(by_alias=True) for doc in self.documents}
        return {
            "sources": len(self.documents),
            "frames": self.frames,
            "tracks": sum(len(doc.tracks) for doc in self.documents),
            "unique_objects": dg.MetadataValue.json({doc.source: doc.counts.unique_objects for doc in self.documents}),
            "counts": dg.MetadataValue.json(counts),
            "tracker_ms_per_frame": round(1000 * self.seconds / self.frames, 3) if self.frames else 0.0,
        } | {
            name: dg.MetadataValue.json(value)
            for name, value in (("failed_sources", self.failed), ("unreadable_documents", self.unreadable))
            if value
        }


def track_hour(
    store: ObjectStore, partition: str, frames_of: FramesOf, sources: Sources, version: str, version_key: str | None
) -> TrackedHour:
    """Tracks every source of the hour and writes its document. A source whose tracking raises costs only
    itself (its reason is returned); infrastructure failures fail the run."""
    before = previous_partition(partition)
    hour, previous_hour = frames_of(partition), frames_of(before)
    tracked = TrackedHour(frames=sum(len(frames) for frames in hour.values()))
    for source in sorted(hour):
        config = sources.get(source)
        try:
            previous = _readable(store, layout.tracks_key(before, source, version_key), tracked)
            started = time.perf_counter()
            document = track_source(
                hour[source],
                tail(previous_hour.get(source, []), config.tracker.carry_s),
                previous,
                config,
                partition=partition,
                source=source,
                version=version,
                generated_at=now(),
            )
            tracked.seconds += time.perf_counter() - started
            store.put_record(layout.tracks_key(partition, source, version_key), document)
            tracked.documents.append(document)
        except Exception as exc:
            tracked.failed[source] = failures.item_reason(exc)
            kept = _readable(store, layout.tracks_key(partition, source, version_key), tracked)
            if kept is not None:  # its tables keep the last tracks it had
                tracked.kept.append(kept)
    summary = TrackSummary(
        partition=partition,
        version=version,
        generated_at=now(),
        sources={doc.source: doc.counts for doc in sorted(tracked.documents + tracked.kept, key=lambda d: d.source)},
        failed=tracked.failed,
    )
    store.put_record(layout.track_summary_key(partition, version_key), summary)
    return tracked


def _readable(store: ObjectStore, key: str, tracked: TrackedHour) -> SourceTracks | None:
    """A stored track document, or None. Both uses do without one that cannot be read, noted: the previous hour's
    only lends its ids (the replayed seconds still continue its tracks, under new ids), and a failed source's
    own only keeps its last tracks in the tables."""
    stored = store.get_optional(key)
    if stored is None:
        return None
    try:
        return SourceTracks.model_validate_json(stored.data)
    except ValidationError as exc:
        tracked.unreadable[key] = failures.describe(exc)
        return None


def active_frames(store: ObjectStore) -> FramesOf:
    """The active version's frames: the hour's detection table, two objects whatever the hour's size."""
    from imgassets.tracking.follow import frames_from_tables

    def frames(partition: str) -> dict[str, list[Frame]]:
        tables = table.read_hour(store, partition)
        return frames_from_tables(tables.images, tables.detections) if tables is not None else {}

    return frames


def tracked_check(tracked: TrackedHour, partition: str) -> dg.AssetCheckResult:
    """The hour's tracks hold only its own frames, and no source failed."""
    hour = layout.parse_partition(partition)
    outside = [
        f"{doc.source}/{track.track_id}"
        for doc in tracked.documents
        for track in doc.tracks
        for observation in track.observations
        if layout.parse_image_key(observation.image_key).hour != hour
    ]
    return dg.AssetCheckResult(
        check_name="every_source_tracked",
        passed=not tracked.failed and not outside,
        metadata={"failed_sources": len(tracked.failed), "tracks_with_other_hours": len(outside)},
    )


def tracks(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    tracking: TrackingResource,
    detector: DetectorResource,
    alerts: AlertResource,
) -> dg.MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    active = detector.versions().active_name
    tracked = track_hour(store, partition, active_frames(store), tracking.sources(), active, None)
    rows = tables.write_hour(store, partition, tracked.documents + tracked.kept)
    for source, reason in tracked.failed.items():
        context.log.warning(f"tracks of {source} in {partition} not updated: {reason}")
    check = tracked_check(tracked, partition)
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        metadata=tracked.metadata() | {"track_rows": rows["tracks"], "event_rows": rows["events"]},
        check_results=[check],
    )


def tracks_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The hour's tracks asset, partitioned by `partitions`."""
    return dg.asset(
        deps=["detection_table"],
        partitions_def=partitions,
        group_name=GROUP,
        pool=HOUR_ROLLUP_POOL,
        kinds={"parquet", "s3"},
        check_specs=[tracked_spec(dg.AssetKey("tracks"), partitions)],
        description="Objects followed across each source's frames of the hour (ByteTrack), with line crossings and "
        "zone visits (sources.toml): tracks/<hour>/<source>.json and the tables tracks/… and events/… that `imgassets "
        "query` and the viewer's source page read.",
    )(tracks)
