"""Detecting objects in an hour's images for one detector version: what `detections` (the active version) and
each version's own detections asset (defs/versions.py) share.

Per image: its stored candidates when the version can use them (no forward pass, no image read), else the image
read from S3 (or raw_images' hand-off), decoded and run through the network in an inference lane. The record
goes to the version's key; anything that goes wrong with one image costs only that image (a rejection).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from imgassets.core import images, layout
from imgassets.core.pipelining import prefetch
from imgassets.core.records import (
    Detection,
    DetectionRecord,
    ImageResult,
    KafkaRef,
    ManifestEntry,
    Provenance,
    RejectedImage,
)
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import (
    item_failure,
    manifests,
    now,
    pixel_budget,
    reject,
    validated_bytes,
    validated_pixels,
    written_records,
)
from imgassets.defs.resource_types import PipelineResource
from imgassets.detector import BACKEND_NAMES, Detector, candidates
from imgassets.detector.model_files import ModelFiles
from imgassets.detector.postprocess import Candidates
from imgassets.detector.versions import DetectorVersion


@dataclass
class VersionRun:
    """One run of one version over some of an hour's images. `version_key` None: the active version's own
    prefixes; else the version's name (layout.version_prefix)."""

    version: DetectorVersion
    version_key: str | None
    load: Callable[[], Detector]
    partition: str
    run_id: str

    @cached_property
    def files(self) -> ModelFiles:
        return self.version.files()

    @cached_property
    def forward_id(self) -> str:
        return self.version.forward_id(self.files)

    def record_key(self, image_key: str) -> str:
        parsed = layout.parse_image_key(image_key)
        return parsed.detection_key if self.version_key is None else parsed.version_detection_key(self.version_key)


@dataclass
class Detected:
    results: list[ImageResult] = field(default_factory=list)
    failed: list[RejectedImage] = field(default_factory=list)
    inference_ms: list[float] = field(default_factory=list)
    #: Images that went through the network, and images computed from their stored candidates (an image that could
    #: not be read or decoded is neither).
    forward_passes: int = 0
    from_candidates: int = 0
    seconds: float = 0.0


def detect_images(
    store: ObjectStore,
    run: VersionRun,
    entries: Iterable[ManifestEntry],
    pipeline: PipelineResource,
    io_threads: int,
    stored: Mapping[str, Candidates],
) -> Detected:
    """Detects, writes each image's record (or rejection) and the run's new candidates; returns what it did.
    `entries` is read once, as detection proceeds: it may be a stream of images still being validated."""
    budget = pixel_budget(pipeline.max_pixel_bytes_in_flight)
    found: dict[str, Candidates] = {}
    kafka_refs: dict[str, KafkaRef | None] = {}
    outcome = Detected()
    model: list[Detector] = []  # loaded on the first image that needs the network
    thresholds = run.version.thresholds

    def network() -> Detector:
        if not model:
            model.append(run.load())
        return model[0]

    def fetch(entry: ManifestEntry) -> tuple[ManifestEntry, np.ndarray | bytes | str | None]:
        """The image's pixels or bytes (from raw_images' hand-offs, else S3), None when its candidates are stored,
        or why they cannot be had."""
        kafka_refs[entry.key] = entry.kafka
        if entry.key in stored:
            return entry, None
        try:
            if (pixels := validated_pixels.take((entry.key, entry.sha256))) is not None:
                return entry, pixels
            data = validated_bytes.take((entry.key, entry.sha256))
            return entry, data if data is not None else store.get(entry.key, max_bytes=pipeline.max_image_bytes).data
        except Exception as exc:  # the per-image boundary
            return entry, item_failure(exc)

    def infer(fetched: tuple[ManifestEntry, np.ndarray | bytes | str | None]) -> DetectionRecord | RejectedImage:
        """Decode and detect in the lane itself, so decoded pixels in flight are bounded by lanes and bytes.
        Anything that goes wrong here, up to building the record, costs only this image."""
        entry, data = fetched
        if isinstance(data, str):
            return RejectedImage(image_key=entry.key, reason=data)
        try:
            if data is None:
                tick, candidates_found = time.perf_counter(), stored[entry.key]
            else:
                tick, candidates_found = forward(entry, data)
                found[entry.key] = candidates_found
            kept = thresholds.select(candidates_found, run.files.labels)
            return record(entry, candidates_found, kept, (time.perf_counter() - tick) * 1000)
        except Exception as exc:  # the per-image boundary
            return RejectedImage(image_key=entry.key, reason=item_failure(exc))

    def forward(entry: ManifestEntry, data: np.ndarray | bytes) -> tuple[float, Candidates]:
        """When the network started (inference time excludes decoding), and what it found."""
        detector = network()
        if isinstance(data, np.ndarray):
            with budget.hold(data.nbytes):
                return time.perf_counter(), detector.candidates([data], thresholds.floor)[0]
        with budget.hold(max(entry.width * entry.height * 3, images.decoded_bytes(data))):
            pixels = images.decode_bgr(data, pipeline.max_image_pixels)
            return time.perf_counter(), detector.candidates([pixels], thresholds.floor)[0]

    def record(entry: ManifestEntry, source: Candidates, kept: list[Detection], elapsed_ms: float) -> DetectionRecord:
        return DetectionRecord(
            image_key=entry.key,
            source_image_path=store.url(entry.key),
            image_sha256=entry.sha256,
            image_width=source.width,
            image_height=source.height,
            model_used=run.files.weights.stem,
            model_weights_sha256=run.files.weights_sha256,
            backend=BACKEND_NAMES[run.version.backend],
            input_size=run.version.input_size,
            confidence_threshold=run.version.confidence,
            nms_threshold=run.version.nms,
            detections=kept,
            counts=DetectionRecord.count(kept),
            provenance=Provenance(
                kafka=entry.kafka,
                dagster_run_id=run.run_id,
                dagster_partition=run.partition,
                source=entry.source,
                uploaded_at=entry.uploaded_at,
                processed_at=now(),
                inference_ms=round(elapsed_ms, 2),
            ),
        )

    writes: list[Future[object]] = []
    started = time.perf_counter()
    if stored:  # a version's run over a list: the network (and its lanes) only when some image needs it
        entries = list(entries)
        lanes = network().lanes if any(entry.key not in stored for entry in entries) else 1
    else:
        lanes = network().lanes
    # S3 reads run ahead in the I/O pool while every inference lane decodes and detects its own image; record
    # writes go back to the I/O pool. Read-ahead is bounded, so memory does not grow with the batch.
    with ThreadPoolExecutor(max_workers=io_threads) as io, ThreadPoolExecutor(max_workers=lanes) as pool:
        fetched = prefetch(io, fetch, entries, ahead=io_threads * 2)
        for result in prefetch(pool, infer, fetched, ahead=lanes * 2):
            if isinstance(result, RejectedImage):
                outcome.failed.append(result)
                writes.append(
                    io.submit(
                        reject,
                        store,
                        result.image_key,
                        result.reason,
                        run.partition,
                        run.run_id,
                        kafka_refs.get(result.image_key),
                        run.version_key,
                    )
                )
                continue
            key = run.record_key(result.image_key)
            writes.append(io.submit(store.put_record, key, result))
            if run.version_key is None:
                written_records.put((key, run.run_id), result)
            outcome.inference_ms.append(result.provenance.inference_ms)
            outcome.results.append(ImageResult.of(result, key))
        for write in writes:
            write.result()
    if found:
        candidates.write(store, layout.candidates_key(run.forward_id, run.partition, run.run_id), found)
    outcome.forward_passes = len(found)
    outcome.from_candidates = sum(1 for key in kafka_refs if key in stored)
    outcome.seconds = time.perf_counter() - started
    return outcome


def images_without_records(store: ObjectStore, partition: str, version_key: str | None) -> list[str]:
    """Images of the hour that raw_images accepted and that have neither a record nor a rejection of the version
    (`version_key` None: the active version's)."""
    accepted = {entry.key for manifest in manifests(store, partition) for entry in manifest.accepted}
    if version_key is None:
        prefixes = (layout.detections_prefix(partition), layout.rejections_prefix(partition))
    else:
        prefixes = (
            layout.version_detections_prefix(version_key, partition),
            layout.version_rejections_prefix(version_key, partition),
        )
    recorded = {key for prefix in prefixes for key in store.list_keys(prefix)}
    missing = []
    for image_key in sorted(accepted):
        parsed = layout.parse_image_key(image_key)
        if version_key is None:
            keys = (parsed.detection_key, parsed.rejection_key)
        else:
            keys = (parsed.version_detection_key(version_key), parsed.version_rejection_key(version_key))
        if not any(key in recorded for key in keys):
            missing.append(image_key)
    return missing
