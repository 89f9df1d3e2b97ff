"""What the hourly assets share: a run's batch (set by the Kafka sensor, or the whole hour for a backfill),
the hand-off of validated bytes and the pixel budget within one run worker, the per-image failure boundary,
and reading an hour's manifests.

A sensor-launched run carries its batch (image keys + Kafka provenance) in `raw_images`' config and touches only
those images; a run launched from the UI (a backfill) has no batch and processes the whole hour, listed from S3.
Every write is keyed by image or by run, so replays overwrite instead of duplicating, and two runs for the same
hour never write the same object.
"""

import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from dagster import AssetCheckResult, AssetExecutionContext, Config, DagsterRun
from pydantic import Field

from imgassets.core import counted_images, images, layout
from imgassets.core.failures import describe, item_reason
from imgassets.core.pipelining import ByteBudget, Handoff
from imgassets.core.records import (
    DetectionRecord,
    HourRollup,
    KafkaRef,
    Manifest,
    ManifestEntry,
    Rejection,
    Shard,
    Summary,
)
from imgassets.core.storage import ModelT, ObjectStore, ObjectTooLarge
from imgassets.defs.resource_types import AlertResource

GROUP = "image_analytics"
#: The steps that read an hour's shards or table and write its roll-up (summary, table) run one at a time
#: (the instance gives every pool a limit of 1), so the last one written has seen every shard. The runs of one
#: hour otherwise overlap: validation and detection, the expensive steps, never wait for each other.
HOUR_ROLLUP_POOL = "hour_rollup"


class ImageRef(Config):
    """One image of a sensor batch, with the Kafka message that announced it."""

    key: str
    sha256: str | None = None
    size: int | None = Field(default=None, description="bytes announced by the message; larger objects are not read")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    @property
    def kafka(self) -> KafkaRef | None:
        if self.topic is None or self.partition is None or self.offset is None:
            return None
        return KafkaRef(topic=self.topic, partition=self.partition, offset=self.offset)


class BatchConfig(Config):
    images: list[ImageRef] = Field(
        default_factory=list,
        description="Images of this run (set by the Kafka sensor). Empty: process every image of the hour.",
    )


#: Validated image bytes from raw_images for detections in the same run worker (one S3 GET per image, not two),
#: by image key and sha256.
validated_bytes = Handoff[tuple[str, str], bytes](capacity=256 * 2**20, cost=len)
#: The pixels raw_images decoded while validating, for detections in the same step (one decode per image, not
#: two), by image key and sha256. Images that do not fit go through validated_bytes and are decoded again.
validated_pixels = Handoff[tuple[str, str], np.ndarray](capacity=128 * 2**20, cost=lambda pixels: pixels.nbytes)
#: The active version's records detections wrote, by record key and run id, for the same run's table step (a sensor
#: run's table reads its own images' records from memory, not S3). Bounded by count: a batch is at most
#: IMGASSETS_BATCH_MAX_IMAGES (1,000 by default) images, and the rest is read from S3.
written_records = Handoff[tuple[str, str], DetectionRecord](capacity=5000, cost=lambda _: 1)
_budgets: dict[int, ByteBudget] = {}


def pixel_budget(capacity: int) -> ByteBudget:
    """Decoded pixels held at once in this run worker, shared by validation and detection."""
    return _budgets.setdefault(capacity, ByteBudget(capacity))


def now() -> datetime:
    return datetime.now(UTC)


def recent_hours(count: int) -> list[datetime]:
    """The current UTC hour and the `count - 1` before it, newest first: the hours the sensors that keep recent
    hours up to date (compaction, tracks) look at."""
    current = now().replace(minute=0, second=0, microsecond=0)
    return [current - timedelta(hours=back) for back in range(count)]


def item_failure(exc: Exception) -> str:
    """The recorded reason when handling one image raised: infrastructure errors propagate (they fail the run,
    which Dagster retries), anything else is that image's rejection."""
    return item_reason(exc, images.ImageRejected, ObjectTooLarge, layout.InvalidKey)


def reject(
    store: ObjectStore,
    image_key: str,
    reason: str,
    partition: str,
    run_id: str,
    kafka: KafkaRef | None,
    version: str | None = None,
) -> Rejection:
    """Writes the image's rejection record (under a detector `version`'s prefix when given), so the viewer and the
    hour's audit see it as handled (a key that is not one of ours is recorded only in the run's manifest or
    shard)."""
    rejection = Rejection(
        image_key=image_key, reason=reason, partition=partition, run_id=run_id, rejected_at=now(), kafka=kafka
    )
    with contextlib.suppress(layout.InvalidKey):
        parsed = layout.parse_image_key(image_key)
        store.put_record(parsed.rejection_key if version is None else parsed.version_rejection_key(version), rejection)
    return rejection


def alert_failed_check(alerts: AlertResource, context: AssetExecutionContext, check: AssetCheckResult) -> None:
    if not check.passed:
        alerts.send(
            f"asset check {check.check_name} failed for {context.partition_key} (run {context.run.run_id}): "
            f"{dict(check.metadata)}"
        )


def lineage(run: DagsterRun) -> list[str]:
    """This run, then the run it re-executes and the original: a retry from failure skips the steps that
    succeeded, so their outputs carry those runs' ids."""
    return list(dict.fromkeys(r for r in (run.run_id, run.parent_run_id, run.root_run_id) if r))


def batch_manifest(store: ObjectStore, partition: str, run: DagsterRun) -> Manifest | None:
    """The manifest raw_images wrote for this run's batch (in this run or one it re-executes), if any."""
    for run_id in lineage(run):
        manifest = store.get_optional(layout.manifest_key(partition, run_id))
        if manifest is not None:
            return Manifest.model_validate_json(manifest.data)
    return None


def hour_entries(store: ObjectStore, partition: str) -> list[ManifestEntry]:
    """Every accepted image of the hour, from all manifests (the latest entry per image)."""
    latest: dict[str, ManifestEntry] = {}
    for manifest in manifests(store, partition):
        for entry in manifest.accepted:
            latest[entry.key] = entry
    return sorted(latest.values(), key=lambda e: e.key)


def hour_manifests(store: ObjectStore, partition: str) -> tuple[list[Manifest], dict[str, str]]:
    """Every readable manifest of the hour, oldest first, and the ones that cannot be read or parsed (key →
    reason)."""
    read, unreadable = store.read_each(list(store.list_keys(layout.manifests_prefix(partition))), Manifest)
    return sorted(read.values(), key=lambda m: m.created_at), unreadable


def manifests(store: ObjectStore, partition: str) -> list[Manifest]:
    """Every manifest of the hour, oldest first, where all of them are needed (which images the hour accepted):
    a damaged one fails the step, named, rather than leave its images out unseen."""
    read, unreadable = hour_manifests(store, partition)
    if unreadable:
        key, reason = min(unreadable.items())
        raise ValueError(
            f"manifest {key} cannot be read ({reason}): the images the hour accepted are unknown until it is "
            f"restored or removed ({len(unreadable)} damaged manifests in {partition})"
        )
    return read


#: Shards read in this run worker, by bucket and key. A shard is written once, by its run, and never changed, so
#: the run's two roll-up steps (summary, then table) read each of the hour's shards from S3 once, not twice: at
#: 1,000 runs in an hour, every run's roll-ups read 1,000 shards.
_shards: dict[tuple[str, str], Shard] = {}


def hour_shards(store: ObjectStore, partition: str) -> tuple[list[Shard], dict[str, str]]:
    """Every readable shard of the hour (each run's compact results), in listing order, and the ones that cannot
    be read or parsed (key → reason): a damaged shard costs only itself, not every later roll-up of its hour."""
    keys = list(store.list_keys(layout.shards_prefix(partition)))
    read, unreadable = _read_shards(store, keys)
    return list(read.values()), unreadable


def _read_shards(store: ObjectStore, keys: list[str]) -> tuple[dict[str, Shard], dict[str, str]]:
    read, unreadable = store.read_each([key for key in keys if (store.bucket, key) not in _shards], Shard)
    for key, shard in read.items():
        _shards[(store.bucket, key)] = shard
    return {key: _shards[(store.bucket, key)] for key in keys if (store.bucket, key) in _shards}, unreadable


def run_shard(store: ObjectStore, partition: str, run: DagsterRun) -> Shard | None:
    """The shard this run's detections wrote (in this run or one it re-executes), if any."""
    for run_id in lineage(run):
        read, _ = _read_shards(store, [layout.shard_key(partition, run_id)])
        if read:
            return next(iter(read.values()))
    return None


@dataclass
class RollupRead:
    rollup: HourRollup
    #: Shards and manifests that cannot be read or parsed (key → reason): left out, and tried again next time.
    unreadable_shards: dict[str, str]
    unreadable_manifests: dict[str, str]
    #: How many shards and manifests were folded in now; where the roll-up started ("stored", "rebuilt", why).
    folded: int
    start: str
    #: The latest images its counts hold (counted_images.py).
    counted: np.ndarray


#: The tag of a run that processes a batch again (set by run_failures.py): its images may be counted already.
REQUEUE_TAG = "imgassets/requeue"


def hour_rollup(store: ObjectStore, partition: str, run: DagsterRun | None, rebuild: bool = False) -> RollupRead:
    """The hour's roll-up brought up to date. Its steps take turns (pool `hour_rollup`).

    - A sensor run folds in only its own shard and manifest (this run's, or those of the run it re-executes), and
      checks its images against the hour's latest counted ones (counted_images.py): its cost does not grow with
      the hour's runs.
    - Rebuilt from every shard and manifest of the hour, each image's latest result winning: for `rebuild` (a
      backfill), with no run (the compaction of a closed hour), when no usable roll-up is stored, for a re-queued
      batch, and when any image of the run is counted already (a message produced twice, offsets replayed).
    """
    if rebuild or run is None:
        return _rebuilt(store, partition, "rebuilt (a backfill)" if rebuild else "rebuilt (the hour's compaction)")
    if run.tags.get(REQUEUE_TAG):
        return _rebuilt(store, partition, "rebuilt (a batch processed again: its latest results win)")
    base, why = _stored_rollup(store, partition)
    counted = counted_images.read(store, partition) if base is not None else None
    if base is None or counted is None:
        return _rebuilt(store, partition, why if base is None else "rebuilt (its counted images are not stored)")
    ids = lineage(run)
    shards, unreadable_shards = _read_own(store, [layout.shard_key(partition, i) for i in ids], Shard)
    manifests, unreadable_manifests = _read_own(store, [layout.manifest_key(partition, i) for i in ids], Manifest)
    shard = next(iter(shards.values()), None)
    manifest = next(iter(manifests.values()), None)
    mine = [result.image_key for result in shard.images] if shard and shard.run_id not in base.recent_runs else []
    new = counted_images.hashes(mine)
    if len(new) != len(mine) or counted_images.any_counted(counted, new):
        return _rebuilt(store, partition, "rebuilt (an image counted again: its latest result wins)")
    folded = base.fold(shard, manifest)
    read = len(shards) + len(manifests)
    counted = counted_images.added(counted, new, folded.run_count)
    return RollupRead(folded, unreadable_shards, unreadable_manifests, read, why, counted)


def _read_own(store: ObjectStore, keys: list[str], model: type[ModelT]) -> tuple[dict[str, ModelT], dict[str, str]]:
    """The documents at `keys` that exist (a run re-executing another has its parent's, not its own), each read on
    its own: one that cannot be parsed is returned as key → reason."""
    found: dict[str, ModelT] = {}
    unreadable: dict[str, str] = {}
    for key in keys:
        stored = store.get_optional(key)
        if stored is None:
            continue
        try:
            found[key] = model.model_validate_json(stored.data)
        except ValueError as exc:
            unreadable[key] = describe(exc)
    return found, unreadable


def _rebuilt(store: ObjectStore, partition: str, why: str) -> RollupRead:
    shards, unreadable_shards = _read_shards(store, list(store.list_keys(layout.shards_prefix(partition))))
    manifests, unreadable_manifests = store.read_each(
        list(store.list_keys(layout.manifests_prefix(partition))), Manifest
    )
    rollup = HourRollup.rebuilt(partition, shards.values(), manifests.values())
    runs = sorted(shards.values(), key=lambda shard: (shard.created_at, shard.run_id))
    counted = counted_images.counted(
        (ordinal, counted_images.hashes(result.image_key for result in shard.images))
        for ordinal, shard in enumerate(runs, 1)
    )
    return RollupRead(rollup, unreadable_shards, unreadable_manifests, len(shards) + len(manifests), why, counted)


def store_rollup(store: ObjectStore, rolled: RollupRead) -> Summary:
    """Stores the roll-up state (its counted images first: a roll-up stored without them is rebuilt, never
    counted twice), then the hour's summary made from it (what the viewer reads)."""
    rollup = rolled.rollup
    counted_images.write(store, rollup.partition, rolled.counted)
    store.put_record(layout.rollup_key(rollup.partition), rollup)
    summary = Summary.of(rollup, now())
    store.put_record(layout.summary_key(rollup.partition), summary)
    return summary


def _stored_rollup(store: ObjectStore, partition: str) -> tuple[HourRollup | None, str]:
    """The stored roll-up, or None (and why) when there is none or it cannot be used: the hour is then rebuilt
    from its shards and manifests (the roll-up is derived from them, so nothing is lost)."""
    stored = store.get_optional(layout.rollup_key(partition))
    if stored is None:
        return None, "rebuilt (none stored)"
    try:
        rollup = HourRollup.model_validate_json(stored.data)
    except ValueError as exc:
        return None, f"rebuilt (the stored one cannot be read: {describe(exc)})"
    if rollup.partition != partition:
        return None, f"rebuilt (the stored one is {rollup.partition}'s)"
    return rollup, "stored"


def class_table(counts: Counter[str]) -> str:
    if not counts:
        return "No objects detected."
    rows = "\n".join(f"| {label} | {count} |" for label, count in counts.most_common())
    return f"| class | objects |\n|---|---|\n{rows}"


def unreadable_metadata(unreadable: dict[str, str]) -> dict[str, int | str]:
    """A record that cannot be read costs only itself: counted (the step's check then fails) and named."""
    if not unreadable:
        return {}
    examples = "; ".join(f"{key}: {reason}" for key, reason in sorted(unreadable.items())[:5])
    return {"unreadable_records": len(unreadable), "unreadable_examples": examples}
