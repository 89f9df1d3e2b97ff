"""The step that materializes raw_images and detections: one pass over the run's images, each detected as soon
as its validation accepts it.

Two assets (their own lineage, checks and backfills), one step: were they two steps, the whole batch would be
validated before its first image reached the network, and a run's first record would wait for its last image's
validation. Selecting one of them (a backfill of detections after a promotion, say) runs only its part:
detections then takes the images raw_images accepted, from the manifests.
"""

from collections.abc import Iterator

import dagster as dg

from imgassets.core.records import ManifestEntry, Rejection
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import BatchConfig, batch_manifest, hour_entries
from imgassets.defs.detecting import VersionRun, detect_images
from imgassets.defs.detections import DETECTIONS, active_run, detections_complete_check, detections_result
from imgassets.defs.raw_images import RAW_IMAGES, batch_refs, raw_images_result, rejection_rate_check, validate_batch
from imgassets.defs.resource_types import AlertResource, DetectorResource, PipelineResource, S3Resource


def image_batch(
    context: dg.AssetExecutionContext,
    config: BatchConfig,
    s3: S3Resource,
    detector: DetectorResource,
    pipeline: PipelineResource,
    alerts: AlertResource,
) -> Iterator[dg.MaterializeResult]:
    selected = context.selected_asset_keys
    if not selected:
        # A check alone: each check reports on its asset's own materialization.
        raise dg.Failure("the checks of raw_images and detections run when their asset is materialized")
    store = s3.store()
    partition = context.partition_key
    run = active_run(context, detector) if DETECTIONS.key in selected else None
    if run is not None and RAW_IMAGES.key not in selected:
        yield _detections_alone(context, store, pipeline, alerts, run, s3.io_threads)
        return

    refs, mode = batch_refs(context, config, store)
    described = f", detecting with {run.version.describe()}" if run is not None else ""
    context.log.info(f"validating {len(refs)} images of {partition} ({mode}){described}")
    accepted: list[ManifestEntry] = []
    rejected: list[Rejection] = []

    def accepted_images() -> Iterator[ManifestEntry]:
        for outcome in validate_batch(context, store, pipeline, refs, s3.io_threads, for_detection=run is not None):
            if isinstance(outcome, ManifestEntry):
                accepted.append(outcome)
                yield outcome
            else:
                rejected.append(outcome)

    if run is None:
        for _ in accepted_images():
            pass
        yield raw_images_result(context, store, pipeline, alerts, mode, accepted, rejected)
        return
    done = detect_images(store, run, accepted_images(), pipeline, s3.io_threads, stored={})
    yield raw_images_result(context, store, pipeline, alerts, mode, accepted, rejected)
    yield detections_result(context, store, pipeline, alerts, run, done, accepted if mode == "batch" else None)


def _detections_alone(
    context: dg.AssetExecutionContext,
    store: ObjectStore,
    pipeline: PipelineResource,
    alerts: AlertResource,
    run: VersionRun,
    io_threads: int,
) -> dg.MaterializeResult:
    """detections without raw_images: the images raw_images accepted for this run's batch (when a retry
    re-executes it), else for the whole hour."""
    partition = context.partition_key
    batch = batch_manifest(store, partition, context.run)
    entries = batch.accepted if batch is not None else hour_entries(store, partition)
    context.log.info(f"detecting objects in {len(entries)} images of {partition} with {run.version.describe()}")
    done = detect_images(store, run, entries, pipeline, io_threads, stored={})
    in_batch = batch.accepted if batch is not None and batch.mode == "batch" else None
    return detections_result(context, store, pipeline, alerts, run, done, in_batch)


def image_batch_asset(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """raw_images and detections, materialized together, partitioned by `partitions`."""
    return dg.multi_asset(
        # The op keeps raw_images' name: the Kafka sensor's run config (ops.raw_images.config) names it.
        name="raw_images",
        specs=[RAW_IMAGES, DETECTIONS],
        check_specs=[rejection_rate_check(partitions), detections_complete_check(partitions)],
        partitions_def=partitions,
        can_subset=True,
    )(image_batch)
