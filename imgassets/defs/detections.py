"""detections: YOLOv4-tiny over the batch (or the hour), one JSON record per image and a compact shard per run.
Its check sits beside it."""

import statistics
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import dagster as dg

from imgassets import images, layout
from imgassets.contract import viewer_link
from imgassets.defs.batch import (
    GROUP,
    alert_failed_check,
    batch_manifest,
    class_table,
    hour_entries,
    item_failure,
    manifests,
    now,
    pixel_budget,
    reject,
    validated_bytes,
)
from imgassets.defs.partitions import hourly_partitions
from imgassets.defs.raw_images import raw_images
from imgassets.pipelining import prefetch
from imgassets.records import (
    DetectionRecord,
    ImageResult,
    ManifestEntry,
    Provenance,
    RejectedImage,
    Shard,
)
from imgassets.resources import (
    AlertResource,
    DetectorResource,
    PipelineResource,
    S3Resource,
)
from imgassets.storage import ObjectStore

DETECTIONS_COMPLETE_CHECK = dg.AssetCheckSpec(
    "every_valid_image_has_detections",
    asset="detections",
    description="Sensor runs: every image of the batch has a confirmed detection record (or failed to decode). "
    "Backfills: every image of the hour accepted by raw_images has a detection record (or a rejection).",
)


@dg.asset(
    deps=[raw_images],
    partitions_def=hourly_partitions,
    group_name=GROUP,
    kinds={"s3", "onnx"},  # the default backend (IMGASSETS_DETECTOR_BACKEND); OpenCV DNN is the alternative
    check_specs=[DETECTIONS_COMPLETE_CHECK],
    description="YOLOv4-tiny detections, one JSON record per image (boxes in pixels, provenance), plus a "
    "compact shard per run for the summary.",
)
def detections(
    context: dg.AssetExecutionContext,
    s3: S3Resource,
    detector: DetectorResource,
    pipeline: PipelineResource,
    alerts: AlertResource,
) -> dg.MaterializeResult:
    store = s3.store()
    partition = context.partition_key
    batch = batch_manifest(store, partition, context.run)
    entries = batch.accepted if batch is not None else hour_entries(store, partition)
    model = detector.load()
    context.log.info(f"detecting objects in {len(entries)} images of {partition} with {model.backend}")

    budget = pixel_budget(pipeline.max_pixel_bytes_in_flight)

    def fetch(entry: ManifestEntry) -> tuple[ManifestEntry, bytes | str]:
        """The image's bytes (from raw_images' hand-off, else S3), or why they cannot be had."""
        try:
            data = validated_bytes.take(entry.key, entry.sha256)
            return entry, data if data is not None else store.get(entry.key, max_bytes=pipeline.max_image_bytes).data
        except Exception as exc:  # the per-image boundary
            return entry, item_failure(exc)

    def infer(fetched: tuple[ManifestEntry, bytes | str]) -> DetectionRecord | RejectedImage:
        """Decode and detect in the lane itself, so decoded pixels in flight are bounded by lanes and bytes.
        Anything that goes wrong here, up to building the record, costs only this image."""
        entry, data = fetched
        if isinstance(data, str):
            return RejectedImage(image_key=entry.key, reason=data)
        try:
            return detect(entry, data)
        except Exception as exc:  # the per-image boundary
            return RejectedImage(image_key=entry.key, reason=item_failure(exc))

    def detect(entry: ManifestEntry, data: bytes) -> DetectionRecord:
        with budget.hold(max(entry.width * entry.height * 3, images.decoded_bytes(data))):
            pixels = images.decode_bgr(data, pipeline.max_image_pixels)
            tick = time.perf_counter()
            found = model.detect([pixels])[0]
            elapsed_ms = (time.perf_counter() - tick) * 1000
            height, width = pixels.shape[:2]
            del pixels
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
                processed_at=now(),
                inference_ms=round(elapsed_ms, 2),
            ),
        )

    kafka_refs = {entry.key: entry.kafka for entry in entries}
    results: list[ImageResult] = []
    failed: list[RejectedImage] = []
    writes: list[Future[object]] = []
    inference_ms: list[float] = []
    started = time.perf_counter()
    # S3 reads run ahead in the I/O pool while every inference lane decodes and detects its own image; record
    # writes go back to the I/O pool. Read-ahead is bounded, so memory does not grow with the batch.
    with ThreadPoolExecutor(max_workers=s3.io_threads) as io, ThreadPoolExecutor(max_workers=model.lanes) as lanes:
        fetched = prefetch(io, fetch, entries, ahead=s3.io_threads * 2)
        for outcome in prefetch(lanes, infer, fetched, ahead=model.lanes * 2):
            if isinstance(outcome, RejectedImage):
                failed.append(outcome)
                writes.append(
                    io.submit(
                        reject,
                        store,
                        outcome.image_key,
                        outcome.reason,
                        partition,
                        context.run.run_id,
                        kafka_refs.get(outcome.image_key),
                    )
                )
                continue
            detection_key = layout.parse_image_key(outcome.image_key).detection_key
            writes.append(io.submit(store.put_record, detection_key, outcome))
            inference_ms.append(outcome.provenance.inference_ms)
            results.append(ImageResult.of(outcome, detection_key))
        for write in writes:
            write.result()
    elapsed = time.perf_counter() - started

    shard = Shard(partition=partition, run_id=context.run.run_id, created_at=now(), images=results, rejected=failed)
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
    check = dg.AssetCheckResult(
        check_name=DETECTIONS_COMPLETE_CHECK.name,
        passed=not missing,
        metadata={
            "scope": scope,
            "images_without_record": len(missing),
            "examples": dg.MetadataValue.json(missing[:20]),
        },
    )
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        metadata={
            "images": len(results),
            "rejected_in_detection": len(failed),
            "objects": sum(class_counts.values()),
            "images_per_second": round(len(results) / elapsed, 2) if elapsed > 0 else 0.0,
            "mean_inference_ms": round(statistics.fmean(inference_ms), 1) if inference_ms else 0.0,
            "backend": model.backend,
            "classes": dg.MetadataValue.md(class_table(class_counts)),
            "preview": dg.MetadataValue.md(_preview(results, pipeline.viewer_url)),
        },
        check_results=[check],
    )


def _images_without_records(store: ObjectStore, partition: str) -> list[str]:
    accepted = {entry.key for manifest in manifests(store, partition) for entry in manifest.accepted}
    recorded = set(store.list_keys(layout.detections_prefix(partition))) | set(
        store.list_keys(layout.rejections_prefix(partition))
    )
    missing = []
    for image_key in sorted(accepted):
        parsed = layout.parse_image_key(image_key)
        if parsed.detection_key not in recorded and parsed.rejection_key not in recorded:
            missing.append(image_key)
    return missing


def _preview(results: list[ImageResult], viewer_url: str) -> str:
    if not results:
        return "No images."
    rows = "\n".join(
        f"| [{r.image_key.rsplit('/', 1)[-1]}]({viewer_link(viewer_url, 'image', key=r.image_key)}) "
        f"| {r.objects} | " + ", ".join(f"{label} ×{n}" for label, n in r.counts.items()) + " |"
        for r in results[:10]
    )
    return f"| image | objects | classes |\n|---|---|---|\n{rows}"
