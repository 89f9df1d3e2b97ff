"""The assets of each detector version that is not the active one (an asset factory): `<version>/detections`,
its records under the version's own S3 prefix, and `<version>/comparison`, that version against the active one's
`detections`, per hour. Both are hourly like every asset, so reprocessing a range of hours under a version is one
backfill of its assets from Dagster's UI. Their checks sit beside them.

A factory rather than a version partition dimension: each version's assets have only the hourly partitions
(8,760 a year, so Dagster's ~100k partitions per asset last 11 years whatever the number of versions), the
active pipeline's assets and their partitions stay untouched, and each version shows in the lineage under its
own name.
"""

import statistics
from collections import Counter

import dagster as dg

from imgassets.core import layout
from imgassets.core.records import DetectionRecord
from imgassets.core.storage import ObjectStore
from imgassets.core.viewer_routes import viewer_link
from imgassets.defs.batch import alert_failed_check, class_table, hour_entries, now, unreadable_metadata
from imgassets.defs.detecting import VersionRun, detect_images, images_without_records
from imgassets.defs.detections import DETECTIONS
from imgassets.defs.raw_images import RAW_IMAGES
from imgassets.defs.resource_types import (
    AlertResource,
    DetectorResource,
    PipelineResource,
    S3Resource,
    TrackingResource,
)
from imgassets.defs.tracks import track_hour, tracked_check, tracked_spec
from imgassets.detector import candidates
from imgassets.detector.comparison import compare
from imgassets.detector.versions import DetectorVersion
from imgassets.tracking.follow import Frame, frames_from_records


def _records(store: ObjectStore, prefix: str) -> tuple[dict[str, DetectionRecord], dict[str, str]]:
    """The hour's records under `prefix` by image key, and the ones that cannot be read (key → reason)."""
    records, unreadable = store.read_each(list(store.list_keys(prefix)), DetectionRecord)
    return {record.image_key: record for record in records.values()}, unreadable


def version_assets(version: DetectorVersion, partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """`<version>/detections` and `<version>/comparison`. The version's fields are read from the detector
    resource when a run starts, so a run uses the configuration it is launched with."""
    name = version.name
    detections_key = dg.AssetKey([name, "detections"])
    complete = dg.AssetCheckSpec(
        "every_valid_image_has_detections",
        asset=detections_key,
        partitions_def=partitions,
        description=f"Every image of the hour accepted by raw_images has a record (or a rejection) of {name}.",
    )
    compared = dg.AssetCheckSpec(
        "every_image_compared",
        asset=dg.AssetKey([name, "comparison"]),
        partitions_def=partitions,
        description=f"Every image of the hour has a record of both the active version and {name}, all readable.",
    )

    @dg.asset(
        name="detections",
        key_prefix=[name],
        deps=[RAW_IMAGES],
        partitions_def=partitions,
        group_name=f"version_{name}",
        kinds={"s3"},
        check_specs=[complete],
        description=f"Detections of detector version {name} ({version.describe()}), one JSON record per image "
        f"under versions/{name}/. Computed from the stored candidates when only thresholds or classes differ from a "
        "forward pass already made; else the network runs.",
    )
    def version_detections(
        context: dg.AssetExecutionContext,
        s3: S3Resource,
        detector: DetectorResource,
        pipeline: PipelineResource,
        alerts: AlertResource,
    ) -> dg.MaterializeResult:
        store = s3.store()
        partition = context.partition_key
        chosen = detector.versions().get(name)
        run = VersionRun(chosen, name, lambda: detector.load(chosen), partition, context.run.run_id)
        entries = hour_entries(store, partition)
        stored, unreadable = (
            candidates.read_hour(store, run.forward_id, partition) if chosen.uses_candidates else ({}, {})
        )
        for key, reason in unreadable.items():
            context.log.warning(f"stored candidates {key} cannot be read ({reason}); its images run the network")
        context.log.info(
            f"{name} ({chosen.describe()}): {len(entries)} images of {partition}, "
            f"{len(stored.keys() & {e.key for e in entries})} with stored candidates"
        )
        done = detect_images(store, run, entries, pipeline, s3.io_threads, stored)
        missing = images_without_records(store, partition, name)
        check = dg.AssetCheckResult(
            check_name=complete.name,
            passed=not missing,
            metadata={"images_without_record": len(missing), "examples": dg.MetadataValue.json(missing[:20])},
        )
        alert_failed_check(alerts, context, check)
        class_counts = Counter[str]()
        for result in done.results:
            class_counts.update(result.counts)
        return dg.MaterializeResult(
            metadata={
                "detector_version": name,
                "detector": chosen.describe(),
                "images": len(done.results),
                "forward_passes": done.forward_passes,
                "from_stored_candidates": done.from_candidates,
                **unreadable_metadata(unreadable),
                "rejected_in_detection": len(done.failed),
                "objects": sum(class_counts.values()),
                "mean_inference_ms": round(statistics.fmean(done.inference_ms), 2) if done.inference_ms else 0.0,
                "classes": dg.MetadataValue.md(class_table(class_counts)),
            },
            check_results=[check],
        )

    @dg.asset(
        name="comparison",
        key_prefix=[name],
        deps=[DETECTIONS, detections_key],
        partitions_def=partitions,
        group_name=f"version_{name}",
        kinds={"s3"},
        check_specs=[compared],
        description=f"Version {name} against the active version for the hour: per-class counts, the images where "
        "they disagree, and box agreement (class and IoU >= 0.5) with precision and recall against the active one.",
    )
    def comparison(
        context: dg.AssetExecutionContext,
        s3: S3Resource,
        detector: DetectorResource,
        pipeline: PipelineResource,
        alerts: AlertResource,
    ) -> dg.MaterializeResult:
        store = s3.store()
        partition = context.partition_key
        versions = detector.versions()
        records_a, unreadable_a = _records(store, layout.detections_prefix(partition))
        records_b, unreadable_b = _records(store, layout.version_detections_prefix(name, partition))
        result = compare(
            partition,
            now(),
            (versions.active_name, name),
            (versions.active.describe(), versions.get(name).describe()),
            records_a,
            records_b,
        )
        store.put_record(layout.comparison_key(name, partition), result)
        unreadable = unreadable_a | unreadable_b
        check = dg.AssetCheckResult(
            check_name=compared.name,
            passed=not (result.only_in_a or result.only_in_b or unreadable),
            metadata={
                "only_in_active": result.only_in_a,
                "only_in_version": result.only_in_b,
                **unreadable_metadata(unreadable),
            },
        )
        alert_failed_check(alerts, context, check)
        top = "\n".join(
            f"| {d.image_key.rsplit('/', 1)[-1]} | {d.objects_a} | {d.objects_b} | {d.matched} |"
            for d in result.disagreements[:10]
        )
        return dg.MaterializeResult(
            metadata={
                "images": result.images,
                "objects_active": result.objects_a,
                "objects_version": result.objects_b,
                "matched": result.matched,
                "precision": result.precision if result.precision is not None else "none found",
                "recall": result.recall if result.recall is not None else "none found",
                "disagreements": len(result.disagreements),
                "largest_disagreements": dg.MetadataValue.md(
                    f"| image | active | {name} | matched |\n|---|---|---|---|\n{top}" if top else "None."
                ),
                "viewer": dg.MetadataValue.url(viewer_link(pipeline.viewer_url, "compare") + f"?version={name}"),
            },
            check_results=[check],
        )

    @dg.asset(
        name="tracks",
        key_prefix=[name],
        deps=[detections_key],
        partitions_def=partitions,
        group_name=f"version_{name}",
        kinds={"s3"},
        check_specs=[tracked_spec(dg.AssetKey([name, "tracks"]), partitions)],
        description=f"The tracks of {name}'s detections, like `tracks` (the comparison page compares their unique "
        "counts with the active version's).",
    )
    def version_tracks(
        context: dg.AssetExecutionContext, s3: S3Resource, tracking: TrackingResource, alerts: AlertResource
    ) -> dg.MaterializeResult:
        store = s3.store()
        partition = context.partition_key

        def frames(hour: str) -> dict[str, list[Frame]]:
            return frames_from_records(_records(store, layout.version_detections_prefix(name, hour))[0].values())

        tracked = track_hour(store, partition, frames, tracking.sources(), name, name)
        check = tracked_check(tracked, partition)
        alert_failed_check(alerts, context, check)
        return dg.MaterializeResult(metadata=tracked.metadata(), check_results=[check])

    return [version_detections, comparison, version_tracks]
