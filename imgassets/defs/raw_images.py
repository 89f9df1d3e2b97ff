"""raw_images: the hour's uploaded images, validated, with a run manifest, thumbnails, and a rejection record for
every image that cannot be used. Its check sits beside it; the step that materializes it (with detections, each
image detected as soon as it is accepted) is defs/image_batch.py."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from imgassets.core import images, layout, messages
from imgassets.core.pipelining import prefetch
from imgassets.core.records import Manifest, ManifestEntry, Rejection
from imgassets.core.storage import ObjectMissing, ObjectStore
from imgassets.defs.batch import (
    GROUP,
    BatchConfig,
    ImageRef,
    alert_failed_check,
    item_failure,
    now,
    pixel_budget,
    reject,
    validated_bytes,
    validated_pixels,
)
from imgassets.defs.resource_types import AlertResource, PipelineResource

REJECTION_RATE = "rejection_rate_below_threshold"


def rejection_rate_check(partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        REJECTION_RATE,
        asset="raw_images",
        partitions_def=partitions,
        description="Share of rejected images in the run's batch stays below the pipeline's max_rejection_rate "
        "(IMGASSETS_MAX_REJECTION_RATE).",
    )


RAW_IMAGES = dg.AssetSpec(
    "raw_images",
    group_name=GROUP,
    kinds={"s3"},
    description="Uploaded images of the hour, validated (decodable, dimensions, format, sha256); writes a run "
    "manifest, thumbnails, and a rejection record with its reason for every unusable image.",
)


def batch_refs(
    context: dg.AssetExecutionContext, config: BatchConfig, store: ObjectStore
) -> tuple[list[ImageRef], str]:
    """The run's images and mode: the sensor's batch, or (a backfill) every image of the hour, listed from S3."""
    if config.images:
        return config.images, "batch"
    return [ImageRef(key=key) for key in store.list_keys(layout.images_prefix(context.partition_key))], "backfill"


def validate_batch(
    context: dg.AssetExecutionContext,
    store: ObjectStore,
    pipeline: PipelineResource,
    refs: list[ImageRef],
    io_threads: int,
    for_detection: bool = False,
) -> Iterator[ManifestEntry | Rejection]:
    """Each image of the batch, accepted or rejected with its reason, in order, as its validation finishes.
    `for_detection`: the same step detects the accepted images next, so their pixels are kept for it."""
    partition, run_id = context.partition_key, context.run.run_id

    def validate(ref: ImageRef) -> ManifestEntry | Rejection:
        return _validate(store, pipeline, ref, partition, run_id, for_detection)

    with ThreadPoolExecutor(max_workers=io_threads) as pool:
        # Bounded read-ahead: if S3 goes away, the step fails after the images in flight, not after every
        # image of the batch has used up its retries.
        yield from prefetch(pool, validate, refs, ahead=io_threads * 2)


def raw_images_result(
    context: dg.AssetExecutionContext,
    store: ObjectStore,
    pipeline: PipelineResource,
    alerts: AlertResource,
    mode: str,
    accepted: list[ManifestEntry],
    rejected: list[Rejection],
) -> dg.MaterializeResult:
    """Writes the run's manifest; raw_images' materialization with its check."""
    partition = context.partition_key
    manifest = Manifest(
        partition=partition,
        run_id=context.run.run_id,
        mode=mode,
        created_at=now(),
        accepted=accepted,
        rejected=rejected,
    )
    manifest_key = layout.manifest_key(partition, context.run.run_id)
    store.put_record(manifest_key, manifest)
    for rejection in rejected:
        context.log.warning(f"rejected {rejection.image_key}: {rejection.reason}")

    total = len(accepted) + len(rejected)
    rate = len(rejected) / total if total else 0.0
    limit = pipeline.max_rejection_rate
    check = dg.AssetCheckResult(
        asset_key=RAW_IMAGES.key,
        check_name=REJECTION_RATE,
        passed=rate <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejection_rate": rate, "threshold": limit, "rejected": len(rejected), "images": total},
    )
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        asset_key=RAW_IMAGES.key,
        metadata={
            "mode": mode,
            "accepted": len(accepted),
            "rejected": len(rejected),
            "manifest": dg.MetadataValue.path(store.url(manifest_key)),
            "rejections": dg.MetadataValue.md(_rejection_table(rejected)),
        },
        check_results=[check],
    )


def _validate(
    store: ObjectStore, limits: PipelineResource, ref: ImageRef, partition: str, run_id: str, for_detection: bool
) -> ManifestEntry | Rejection:
    """One image of the batch: accepted, or rejected with its reason. Whatever goes wrong with this image costs
    only this image; only infrastructure errors propagate."""
    try:
        return _accept(store, limits, ref, partition, for_detection)
    except Exception as exc:  # the per-image boundary
        return reject(store, ref.key, item_failure(exc), partition, run_id, ref.kafka)


def _accept(
    store: ObjectStore, limits: PipelineResource, ref: ImageRef, partition: str, for_detection: bool
) -> ManifestEntry:
    key = layout.parse_image_key(ref.key)
    if key.partition != partition:
        raise images.ImageRejected(f"image belongs to hour {key.partition}, not {partition}")
    if ref.size is not None and ref.size > limits.max_image_bytes:
        raise images.ImageRejected(f"file too large: {ref.size} bytes > limit {limits.max_image_bytes}")
    try:
        stored = store.get(key.key, max_bytes=limits.max_image_bytes)
    except ObjectMissing:
        raise images.ImageRejected("object not found in S3") from None
    # Pillow keeps RGB pixels in 4 bytes, a third more than the decoded estimate; pixels kept for the detector add
    # their own array and its conversion.
    estimate = images.decoded_bytes(stored.data)
    # An image of at most an eighth of the hand-off (16 MiB: 5.5 MP) keeps the pixels its validation decodes;
    # larger ones are validated at the thumbnail's reduced scale and decoded again for the detector, as before.
    room = min(validated_pixels.room(), validated_pixels.capacity // 8) if for_detection else 0
    with pixel_budget(limits.max_pixel_bytes_in_flight).hold(
        estimate * 4 // 3 + (2 * estimate if estimate <= room else 0)
    ):
        valid = images.validate(
            stored.data, limits.max_image_bytes, limits.max_image_pixels, ref.sha256, pixels_up_to=room
        )
    store.put_bytes(key.thumbnail_key, valid.thumbnail_jpeg, "image/jpeg")
    if valid.pixels is None or not validated_pixels.put((key.key, valid.sha256), valid.pixels):
        validated_bytes.put((key.key, valid.sha256), stored.data)
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
