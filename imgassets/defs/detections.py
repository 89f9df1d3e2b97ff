"""detections: YOLOv4-tiny over the batch (or the hour), one JSON record per image and a compact shard per run.
Its check sits beside it; the step that materializes it (with raw_images) is defs/image_batch.py."""

import statistics
from collections import Counter

import dagster as dg

from imgassets.core import layout
from imgassets.core.records import ImageResult, ManifestEntry, Shard
from imgassets.core.storage import ObjectStore
from imgassets.core.viewer_routes import viewer_link
from imgassets.defs.batch import GROUP, alert_failed_check, class_table, now
from imgassets.defs.detecting import Detected, VersionRun, images_without_records
from imgassets.defs.raw_images import RAW_IMAGES
from imgassets.defs.resource_types import AlertResource, DetectorResource, PipelineResource
from imgassets.detector import BACKEND_NAMES

DETECTIONS_COMPLETE = "every_valid_image_has_detections"


def detections_complete_check(partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        DETECTIONS_COMPLETE,
        asset="detections",
        partitions_def=partitions,
        description="Sensor runs: every image of the batch has a confirmed detection record (or failed to decode). "
        "Backfills: every image of the hour accepted by raw_images has a detection record (or a rejection).",
    )


DETECTIONS = dg.AssetSpec(
    "detections",
    deps=[RAW_IMAGES],
    group_name=GROUP,
    kinds={"s3", "onnx"},  # the default backend (IMGASSETS_DETECTOR_BACKEND); OpenCV DNN is the alternative
    description="YOLOv4-tiny detections, one JSON record per image (boxes in pixels, provenance), plus a "
    "compact shard per run for the summary.",
)


def active_run(context: dg.AssetExecutionContext, detector: DetectorResource) -> VersionRun:
    """The active detector version over this run's images, writing the pipeline's own records."""
    active = detector.versions().active
    return VersionRun(active, None, lambda: detector.load(active), context.partition_key, context.run.run_id)


def detections_result(
    context: dg.AssetExecutionContext,
    store: ObjectStore,
    pipeline: PipelineResource,
    alerts: AlertResource,
    run: VersionRun,
    done: Detected,
    batch: list[ManifestEntry] | None,
) -> dg.MaterializeResult:
    """Writes the run's shard; detections' materialization with its check. `batch`: a sensor run's accepted
    images, which the run answers for; None: the check audits the whole hour."""
    partition = context.partition_key
    results, failed, inference_ms, elapsed = done.results, done.failed, done.inference_ms, done.seconds
    shard = Shard(partition=partition, run_id=context.run.run_id, created_at=now(), images=results, rejected=failed)
    store.put_record(layout.shard_key(partition, context.run.run_id), shard)

    class_counts = Counter[str]()
    for result in results:
        class_counts.update(result.counts)
    if batch is not None:
        # A sensor run answers for its batch: every image has a confirmed record or a decode failure. The
        # whole-hour audit (listing every record of the hour) is left to backfills: per run it would grow
        # with the hour (1.8 s of CPU at 20,000 images) and make a busy hour quadratic.
        scope = "batch"
        handled = {r.image_key for r in results} | {f.image_key for f in failed}
        missing = sorted(entry.key for entry in batch if entry.key not in handled)
    else:
        scope, missing = "hour", images_without_records(store, partition, None)
    check = dg.AssetCheckResult(
        asset_key=DETECTIONS.key,
        check_name=DETECTIONS_COMPLETE,
        passed=not missing,
        metadata={
            "scope": scope,
            "images_without_record": len(missing),
            "examples": dg.MetadataValue.json(missing[:20]),
        },
    )
    alert_failed_check(alerts, context, check)
    return dg.MaterializeResult(
        asset_key=DETECTIONS.key,
        metadata={
            "images": len(results),
            "rejected_in_detection": len(failed),
            "objects": sum(class_counts.values()),
            "images_per_second": round(len(results) / elapsed, 2) if elapsed > 0 else 0.0,
            "mean_inference_ms": round(statistics.fmean(inference_ms), 1) if inference_ms else 0.0,
            "backend": BACKEND_NAMES[run.version.backend],
            "detector_version": run.version.name,
            "classes": dg.MetadataValue.md(class_table(class_counts)),
            "preview": dg.MetadataValue.md(_preview(results, pipeline.viewer_url)),
        },
        check_results=[check],
    )


def _preview(results: list[ImageResult], viewer_url: str) -> str:
    if not results:
        return "No images."
    rows = "\n".join(
        f"| [{r.image_key.rsplit('/', 1)[-1]}]({viewer_link(viewer_url, 'image', key=r.image_key)}) "
        f"| {r.objects} | " + ", ".join(f"{label} ×{n}" for label, n in r.counts.items()) + " |"
        for r in results[:10]
    )
    return f"| image | objects | classes |\n|---|---|---|\n{rows}"
