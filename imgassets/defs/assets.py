"""The three hourly assets: raw_images → detections → detection_summary, with their checks beside them.

A sensor-launched run carries its batch (image keys + Kafka provenance) in `raw_images`' config and touches
only those images; a run launched from the UI (a backfill) has no batch and processes the whole hour, listed
from S3. Every write is keyed by image or by run, so replays overwrite instead of duplicating, and two runs
for the same hour never write the same object.
"""


import statistics
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone

from botocore.exceptions import ClientError
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    Config,
    DagsterRun,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from imgassets import images, layout, messages
from imgassets.defs.partitions import hourly_partitions
from imgassets.failures import describe, is_infrastructure
from imgassets.pipelining import ByteBudget, Handoff, prefetch
from imgassets.records import (
    DetectionRecord,
    ImageResult,
    KafkaRef,
    Manifest,
    ManifestEntry,
    Provenance,
    RejectedImage,
    Rejection,
    Shard,
    Summary,
)
from imgassets.resources import AlertResource, DetectorResource, S3Resource
from imgassets.settings import get_settings
from imgassets.storage import ObjectStore, ObjectTooLarge, is_missing

GROUP = "image_analytics"


class ImageRef(Config):
    """One image of a sensor batch, with the Kafka message that announced it."""

    key: str
    sha256: str | None = None
    size: int | None = Field(None, description="bytes announced by the message; larger objects are not read")
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


#: Validated image bytes from raw_images for detections in the same run worker (one S3 GET per image, not two).
_validated = Handoff(max_bytes=256 * 2**20)
_budgets: dict[int, ByteBudget] = {}


def _pixel_budget() -> ByteBudget:
    """Decoded pixels held at once in this run worker, shared by validation and detection."""
    capacity = get_settings().max_pixel_bytes_in_flight
    return _budgets.setdefault(capacity, ByteBudget(capacity))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _item_failure(exc: Exception) -> str:
    """The recorded reason when handling one image raised: infrastructure errors propagate (they fail the run,
    which Dagster retries), anything else is that image's rejection."""
    if is_infrastructure(exc):
        raise exc
    return str(exc) if isinstance(exc, images.ImageRejected | ObjectTooLarge | layout.InvalidKey) else describe(exc)


def _alert_failed_check(alerts: AlertResource, context: AssetExecutionContext, check: AssetCheckResult) -> None:
    if not check.passed:
        alerts.send(
            f"asset check {check.check_name} failed for {context.partition_key} (run {context.run.run_id}): "
            f"{dict(check.metadata)}"
        )


# --- raw_images ---------------------------------------------------------------------------------------

REJECTION_RATE_CHECK = AssetCheckSpec(
    "rejection_rate_below_threshold",
    asset="raw_images",
    description="Share of rejected images in the run's batch stays below IMGASSETS_MAX_REJECTION_RATE.",
)


@asset(
    partitions_def=hourly_partitions,
    group_name=GROUP,
    kinds={"s3"},
    check_specs=[REJECTION_RATE_CHECK],
    description="Uploaded images of the hour, validated (decodable, dimensions, format, sha256); writes a run "
    "manifest, thumbnails, and a rejection record with its reason for every unusable image.",
)
def raw_images(
    context: AssetExecutionContext, config: BatchConfig, s3: S3Resource, alerts: AlertResource
) -> MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    if config.images:
        refs, mode = config.images, "batch"
    else:
        refs = [ImageRef(key=key) for key in store.list_keys(layout.images_prefix(partition))]
        mode = "backfill"
    context.log.info(f"validating {len(refs)} images of {partition} ({mode})")

    accepted: list[ManifestEntry] = []
    rejected: list[Rejection] = []

    def validate(ref: ImageRef) -> ManifestEntry | Rejection:
        return _validate(store, ref, partition, context.run.run_id)

    with ThreadPoolExecutor(max_workers=s3.io_threads) as pool:
        # Bounded read-ahead: if S3 goes away, the step fails after the images in flight, not after every
        # image of the batch has used up its retries.
        for outcome in prefetch(pool, validate, refs, ahead=s3.io_threads * 2):
            (accepted if isinstance(outcome, ManifestEntry) else rejected).append(outcome)

    manifest = Manifest(
        partition=partition,
        run_id=context.run.run_id,
        mode=mode,
        created_at=_now(),
        accepted=accepted,
        rejected=rejected,
    )
    manifest_key = layout.manifest_key(partition, context.run.run_id)
    store.put_record(manifest_key, manifest)
    for rejection in rejected:
        context.log.warning(f"rejected {rejection.image_key}: {rejection.reason}")

    total = len(accepted) + len(rejected)
    rate = len(rejected) / total if total else 0.0
    limit = get_settings().max_rejection_rate
    check = AssetCheckResult(
        check_name=REJECTION_RATE_CHECK.name,
        passed=rate <= limit,
        severity=AssetCheckSeverity.WARN,
        metadata={"rejection_rate": rate, "threshold": limit, "rejected": len(rejected), "images": total},
    )
    _alert_failed_check(alerts, context, check)
    return MaterializeResult(
        metadata={
            "mode": mode,
            "accepted": len(accepted),
            "rejected": len(rejected),
            "manifest": MetadataValue.path(f"s3://{store.bucket}/{manifest_key}"),
            "rejections": MetadataValue.md(_rejection_table(rejected)),
        },
        check_results=[check],
    )


def _validate(store: ObjectStore, ref: ImageRef, partition: str, run_id: str) -> ManifestEntry | Rejection:
    """One image of the batch: accepted, or rejected with its reason. Whatever goes wrong with this image costs
    only this image; only infrastructure errors propagate."""
    try:
        return _accept(store, ref, partition)
    except Exception as exc:  # the per-image boundary
        reason = _item_failure(exc)
    rejection = Rejection(
        image_key=ref.key, reason=reason, partition=partition, run_id=run_id, rejected_at=_now(), kafka=ref.kafka
    )
    try:
        store.put_record(layout.parse_image_key(ref.key).rejection_key, rejection)
    except layout.InvalidKey:
        pass  # not one of our keys: recorded in the manifest only
    return rejection


def _accept(store: ObjectStore, ref: ImageRef, partition: str) -> ManifestEntry:
    key = layout.parse_image_key(ref.key)
    if key.partition != partition:
        raise images.ImageRejected(f"image belongs to hour {key.partition}, not {partition}")
    limits = get_settings()
    if ref.size is not None and ref.size > limits.max_image_bytes:
        raise images.ImageRejected(f"file too large: {ref.size} bytes > limit {limits.max_image_bytes}")
    try:
        stored = store.get(key.key, max_bytes=limits.max_image_bytes)
    except ClientError as error:
        if is_missing(error):
            raise images.ImageRejected("object not found in S3") from None
        raise
    # Pillow keeps RGB pixels in 4 bytes, a third more than the decoded estimate.
    with _pixel_budget().hold(images.decoded_bytes(stored.data) * 4 // 3):
        valid = images.validate(stored.data, limits.max_image_bytes, limits.max_image_pixels, ref.sha256)
    store.put_bytes(key.thumbnail_key, valid.thumbnail_jpeg, "image/jpeg")
    _validated.put(key.key, valid.sha256, stored.data)
    uploaded_at, source = messages.parse_object_metadata(stored.metadata)
    return ManifestEntry(
        key=key.key,
        sha256=valid.sha256,
        size=len(stored.data),
        width=valid.width,
        height=valid.height,
        format=valid.format,
        kafka=ref.kafka,
        uploaded_at=uploaded_at,
        source=source,
    )


def _rejection_table(rejected: list[Rejection]) -> str:
    if not rejected:
        return "No rejections."
    rows = "\n".join(f"| `{r.image_key[:120]}` | {r.reason[:200]} |" for r in rejected[:50])
    more = f"\n\n… and {len(rejected) - 50} more" if len(rejected) > 50 else ""
    return f"| image | reason |\n|---|---|\n{rows}{more}"


# --- detections ---------------------------------------------------------------------------------------

DETECTIONS_COMPLETE_CHECK = AssetCheckSpec(
    "every_valid_image_has_detections",
    asset="detections",
    description="Sensor runs: every image of the batch has a confirmed detection record (or failed to decode). "
    "Backfills: every image of the hour accepted by raw_images has a detection record (or a rejection).",
)


@asset(
    deps=[raw_images],
    partitions_def=hourly_partitions,
    group_name=GROUP,
    kinds={"s3", "opencv"},
    check_specs=[DETECTIONS_COMPLETE_CHECK],
    description="YOLOv4-tiny detections, one JSON record per image (boxes in pixels, provenance), plus a "
    "compact shard per run for the summary.",
)
def detections(
    context: AssetExecutionContext, s3: S3Resource, detector: DetectorResource, alerts: AlertResource
) -> MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    batch = _batch_manifest(store, partition, context.run)
    entries = batch.accepted if batch is not None else _hour_entries(store, partition)
    model = detector.load()
    context.log.info(f"detecting objects in {len(entries)} images of {partition} with {model.backend}")

    limits = get_settings()
    budget = _pixel_budget()

    def fetch(entry: ManifestEntry) -> tuple[ManifestEntry, bytes | str]:
        """The image's bytes (from raw_images' hand-off, else S3), or why they cannot be had."""
        try:
            data = _validated.take(entry.key, entry.sha256)
            return entry, data if data is not None else store.get(entry.key, max_bytes=limits.max_image_bytes).data
        except Exception as exc:  # the per-image boundary
            return entry, _item_failure(exc)

    def infer(fetched: tuple[ManifestEntry, bytes | str]) -> DetectionRecord | RejectedImage:
        """Decode and detect in the lane itself, so decoded pixels in flight are bounded by lanes and bytes."""
        entry, data = fetched
        if isinstance(data, str):
            return RejectedImage(image_key=entry.key, reason=data)
        try:
            with budget.hold(max(entry.width * entry.height * 3, images.decoded_bytes(data))):
                pixels = images.decode_bgr(data, limits.max_image_pixels)
                tick = time.perf_counter()
                found = model.detect([pixels])[0]
                elapsed_ms = (time.perf_counter() - tick) * 1000
                height, width = pixels.shape[:2]
                del pixels
        except Exception as exc:  # the per-image boundary
            return RejectedImage(image_key=entry.key, reason=_item_failure(exc))
        return DetectionRecord(
            image_key=entry.key,
            source_image_path=f"s3://{store.bucket}/{entry.key}",
            image_sha256=entry.sha256,
            image_width=width,
            image_height=height,
            model_used=model.files.weights.stem,
            model_weights_sha256=model.files.weights_sha256,
            backend=model.backend,
            input_size=model.input_size,
            confidence_threshold=model.confidence,
            nms_threshold=model.nms,
            detections=found,
            counts=DetectionRecord.count(found),
            provenance=Provenance(
                kafka=entry.kafka,
                dagster_run_id=context.run.run_id,
                dagster_partition=partition,
                source=entry.source,
                uploaded_at=entry.uploaded_at,
                processed_at=_now(),
                inference_ms=round(elapsed_ms, 2),
            ),
        )

    def reject(failed: RejectedImage, kafka: KafkaRef | None) -> None:
        """A rejection record, so the viewer and the hour's audit see the image as handled."""
        rejection = Rejection(
            image_key=failed.image_key,
            reason=failed.reason,
            partition=partition,
            run_id=context.run.run_id,
            rejected_at=_now(),
            kafka=kafka,
        )
        store.put_record(layout.parse_image_key(failed.image_key).rejection_key, rejection)

    kafka_refs = {entry.key: entry.kafka for entry in entries}
    results: list[ImageResult] = []
    failed: list[RejectedImage] = []
    writes: list[Future[None]] = []
    inference_ms: list[float] = []
    started = time.perf_counter()
    # S3 reads run ahead in the I/O pool while every inference lane decodes and detects its own image; record
    # writes go back to the I/O pool. Read-ahead is bounded, so memory does not grow with the batch.
    with ThreadPoolExecutor(max_workers=s3.io_threads) as io, ThreadPoolExecutor(max_workers=model.lanes) as lanes:
        fetched = prefetch(io, fetch, entries, ahead=s3.io_threads * 2)
        for outcome in prefetch(lanes, infer, fetched, ahead=model.lanes * 2):
            if isinstance(outcome, RejectedImage):
                failed.append(outcome)
                writes.append(io.submit(reject, outcome, kafka_refs.get(outcome.image_key)))
                continue
            detection_key = layout.parse_image_key(outcome.image_key).detection_key
            writes.append(io.submit(store.put_record, detection_key, outcome))
            inference_ms.append(outcome.provenance.inference_ms)
            results.append(
                ImageResult(
                    image_key=outcome.image_key,
                    detection_key=detection_key,
                    width=outcome.image_width,
                    height=outcome.image_height,
                    counts=outcome.counts,
                    objects=len(outcome.detections),
                    processed_at=outcome.provenance.processed_at,
                )
            )
        for write in writes:
            write.result()
    elapsed = time.perf_counter() - started

    shard = Shard(partition=partition, run_id=context.run.run_id, created_at=_now(), images=results, rejected=failed)
    store.put_record(layout.shard_key(partition, context.run.run_id), shard)

    class_counts = Counter[str]()
    for result in results:
        class_counts.update(result.counts)
    if batch is not None and batch.mode == "batch":
        # A sensor run answers for its batch: every image has a confirmed record or a decode failure. The
        # whole-hour audit (listing every record of the hour) is left to backfills: per run it would grow
        # with the hour (1.8 s of CPU at 20,000 images) and make a busy hour quadratic.
        scope = "batch"
        handled = {r.image_key for r in results} | {f.image_key for f in failed}
        missing = sorted(entry.key for entry in entries if entry.key not in handled)
    else:
        scope, missing = "hour", _images_without_records(store, partition)
    check = AssetCheckResult(
        check_name=DETECTIONS_COMPLETE_CHECK.name,
        passed=not missing,
        metadata={"scope": scope, "images_without_record": len(missing), "examples": MetadataValue.json(missing[:20])},
    )
    _alert_failed_check(alerts, context, check)
    return MaterializeResult(
        metadata={
            "images": len(results),
            "rejected_in_detection": len(failed),
            "objects": sum(class_counts.values()),
            "images_per_second": round(len(results) / elapsed, 2) if elapsed > 0 else 0.0,
            "mean_inference_ms": round(statistics.fmean(inference_ms), 1) if inference_ms else 0.0,
            "backend": model.backend,
            "classes": MetadataValue.md(_class_table(class_counts)),
            "preview": MetadataValue.md(_preview(results)),
        },
        check_results=[check],
    )


def _lineage(run: DagsterRun) -> list[str]:
    """This run, then the run it re-executes and the original: a retry from failure skips the steps that
    succeeded, so their outputs carry those runs' ids."""
    return list(dict.fromkeys(r for r in (run.run_id, run.parent_run_id, run.root_run_id) if r))


def _batch_manifest(store: ObjectStore, partition: str, run: DagsterRun) -> Manifest | None:
    """The manifest raw_images wrote for this run's batch (in this run or one it re-executes), if any."""
    for run_id in _lineage(run):
        manifest = store.get_optional(layout.manifest_key(partition, run_id))
        if manifest is not None:
            return Manifest.model_validate_json(manifest.data)
    return None


def _hour_entries(store: ObjectStore, partition: str) -> list[ManifestEntry]:
    """Every accepted image of the hour, from all manifests (the latest entry per image)."""
    latest: dict[str, ManifestEntry] = {}
    for manifest in _manifests(store, partition):
        for entry in manifest.accepted:
            latest[entry.key] = entry
    return sorted(latest.values(), key=lambda e: e.key)


def _manifests(store: ObjectStore, partition: str) -> list[Manifest]:
    return sorted(store.get_records(layout.manifests_prefix(partition), Manifest), key=lambda m: m.created_at)


def _images_without_records(store: ObjectStore, partition: str) -> list[str]:
    accepted = {entry.key for manifest in _manifests(store, partition) for entry in manifest.accepted}
    recorded = set(store.list_keys(layout.detections_prefix(partition))) | set(
        store.list_keys(layout.rejections_prefix(partition))
    )
    missing = []
    for image_key in sorted(accepted):
        parsed = layout.parse_image_key(image_key)
        if parsed.detection_key not in recorded and parsed.rejection_key not in recorded:
            missing.append(image_key)
    return missing


def _class_table(counts: Counter[str]) -> str:
    if not counts:
        return "No objects detected."
    rows = "\n".join(f"| {label} | {count} |" for label, count in counts.most_common())
    return f"| class | objects |\n|---|---|\n{rows}"


def _preview(results: list[ImageResult]) -> str:
    if not results:
        return "No images."
    viewer = get_settings().viewer_url.rstrip("/")
    rows = "\n".join(
        f"| [{r.image_key.rsplit('/', 1)[-1]}]({viewer}/images/{r.image_key}) | {r.objects} | "
        + ", ".join(f"{label} ×{n}" for label, n in r.counts.items())
        + " |"
        for r in results[:10]
    )
    return f"| image | objects | classes |\n|---|---|---|\n{rows}"


# --- detection_summary --------------------------------------------------------------------------------

SUMMARY_COMPLETE_CHECK = AssetCheckSpec(
    "summary_covers_all_detections",
    asset="detection_summary",
    description="Sensor runs: the stored hour summary, read back, counts this run's results. Backfills: it counts "
    "every per-image detection record of the hour.",
)


@asset(
    deps=[detections],
    partitions_def=hourly_partitions,
    group_name=GROUP,
    kinds={"s3"},
    check_specs=[SUMMARY_COMPLETE_CHECK],
    description="Per-hour roll-up: objects per class, images per class, image/rejection/object totals "
    "(successor of the original 'label@hour' job). Merged from every run's shard, so it is never torn.",
)
def detection_summary(context: AssetExecutionContext, s3: S3Resource, alerts: AlertResource) -> MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    shards = store.get_records(layout.shards_prefix(partition), Shard)
    summary = Summary.merge(partition, _now(), shards, _manifests(store, partition))
    key = layout.summary_key(partition)
    store.put_record(key, summary)

    batch = _batch_manifest(store, partition, context.run)
    own = next((shard for run_id in _lineage(context.run) for shard in shards if shard.run_id == run_id), None)
    if batch is not None and batch.mode == "batch" and own is not None:
        # A sensor run reads the stored summary back and checks that it counts this run's results: a run
        # overwriting it from a stale view would drop them. Counting every record of the hour is left to
        # backfills, as for detections.
        covered = {image["image_key"] for image in store.get_json(key)["images"]}
        missing = [image.image_key for image in own.images if image.image_key not in covered]
        check = {"scope": "batch", "run_images": len(own.images), "run_images_missing": len(missing)}
        passed = not missing
    else:
        detection_records = sum(1 for _ in store.list_keys(layout.detections_prefix(partition)))
        check = {"scope": "hour", "summary_images": summary.image_count, "detection_records": detection_records}
        passed = summary.image_count >= detection_records
    summary_check = AssetCheckResult(check_name=SUMMARY_COMPLETE_CHECK.name, passed=passed, metadata=check)
    _alert_failed_check(alerts, context, summary_check)
    return MaterializeResult(
        metadata={
            "images": summary.image_count,
            "rejected": summary.rejected_count,
            "objects": summary.total_objects,
            "top_class": next(iter(summary.class_counts), "none"),
            "classes": MetadataValue.md(_class_table(Counter(summary.class_counts))),
            "summary": MetadataValue.path(f"s3://{store.bucket}/{key}"),
            "viewer": MetadataValue.url(f"{get_settings().viewer_url.rstrip('/')}/hours/{partition}"),
        },
        check_results=[summary_check],
    )
