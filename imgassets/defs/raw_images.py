"""raw_images: the hour's uploaded images, validated, with a run manifest, thumbnails, and a rejection record for
every image that cannot be used. Its check sits beside it."""

from concurrent.futures import ThreadPoolExecutor

import dagster as dg
from botocore.exceptions import ClientError

from imgassets import images, layout, messages
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
)
from imgassets.defs.partitions import hourly_partitions
from imgassets.pipelining import prefetch
from imgassets.records import Manifest, ManifestEntry, Rejection
from imgassets.resources import AlertResource, PipelineResource, S3Resource
from imgassets.storage import ObjectStore, is_missing

REJECTION_RATE_CHECK = dg.AssetCheckSpec(
    "rejection_rate_below_threshold",
    asset="raw_images",
    description="Share of rejected images in the run's batch stays below the pipeline's max_rejection_rate "
    "(IMGASSETS_MAX_REJECTION_RATE).",
)


@dg.asset(
    partitions_def=hourly_partitions,
    group_name=GROUP,
    kinds={"s3"},
    check_specs=[REJECTION_RATE_CHECK],
    description="Uploaded images of the hour, validated (decodable, dimensions, format, sha256); writes a run "
    "manifest, thumbnails, and a rejection record with its reason for every unusable image.",
)
def raw_images(
    context: dg.AssetExecutionContext,
    config: BatchConfig,
    s3: S3Resource,
    pipeline: PipelineResource,
    alerts: AlertResource,
) -> dg.MaterializeResult:
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
        return _validate(store, pipeline, ref, partition, context.run.run_id)

    with ThreadPoolExecutor(max_workers=s3.io_threads) as pool:
        # Bounded read-ahead: if S3 goes away, the step fails after the images in flight, not after every
        # image of the batch has used up its retries.
        for outcome in prefetch(pool, validate, refs, ahead=s3.io_threads * 2):
            if isinstance(outcome, ManifestEntry):
                accepted.append(outcome)
            else:
                rejected.append(outcome)

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
        check_name=REJECTION_RATE_CHECK.name,
        passed=rate <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejection_rate": rate, "threshold": limit, "rejected": len(rejected), "images": total},
    )
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        metadata={
            "mode": mode,
            "accepted": len(accepted),
            "rejected": len(rejected),
            "manifest": dg.MetadataValue.path(f"s3://{store.bucket}/{manifest_key}"),
            "rejections": dg.MetadataValue.md(_rejection_table(rejected)),
        },
        check_results=[check],
    )


def _validate(
    store: ObjectStore, limits: PipelineResource, ref: ImageRef, partition: str, run_id: str
) -> ManifestEntry | Rejection:
    """One image of the batch: accepted, or rejected with its reason. Whatever goes wrong with this image costs
    only this image; only infrastructure errors propagate."""
    try:
        return _accept(store, limits, ref, partition)
    except Exception as exc:  # the per-image boundary
        return reject(store, ref.key, item_failure(exc), partition, run_id, ref.kafka)


def _accept(store: ObjectStore, limits: PipelineResource, ref: ImageRef, partition: str) -> ManifestEntry:
    key = layout.parse_image_key(ref.key)
    if key.partition != partition:
        raise images.ImageRejected(f"image belongs to hour {key.partition}, not {partition}")
    if ref.size is not None and ref.size > limits.max_image_bytes:
        raise images.ImageRejected(f"file too large: {ref.size} bytes > limit {limits.max_image_bytes}")
    try:
        stored = store.get(key.key, max_bytes=limits.max_image_bytes)
    except ClientError as error:
        if is_missing(error):
            raise images.ImageRejected("object not found in S3") from None
        raise
    # Pillow keeps RGB pixels in 4 bytes, a third more than the decoded estimate.
    with pixel_budget(limits.max_pixel_bytes_in_flight).hold(images.decoded_bytes(stored.data) * 4 // 3):
        valid = images.validate(stored.data, limits.max_image_bytes, limits.max_image_pixels, ref.sha256)
    store.put_bytes(key.thumbnail_key, valid.thumbnail_jpeg, "image/jpeg")
    validated_bytes.put(key.key, valid.sha256, stored.data)
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
