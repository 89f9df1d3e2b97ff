"""JSON documents the pipeline writes to S3: detection and rejection records, run manifests and shards, and
the hour summary. Their JSON Schema is exported to contract/records.schema.json (`python -m imgassets.devtools.contract
--write`), and the viewer's types are generated from it (frontend/app/lib/records.generated.ts).

The detection record keeps the original project's fields (source_image_path, image_width/height, model_used,
confidence_threshold, nms_threshold, detections[label, class_id, confidence, box]) and adds provenance.

Schema evolution (docs/data-formats.md): a record read from JSON may carry fields this code does not know
(written by newer code) and they are ignored; a record built in code may not (a misspelt field is an error).
Writers emit exactly the model's fields. New fields get a default; a breaking change bumps the `schema` tag.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from imgassets.core.messages import UNKNOWN_SOURCE, Source, VideoFrame

DETECTION_SCHEMA: Final = "imgassets.detections.v1"
REJECTION_SCHEMA: Final = "imgassets.rejection.v1"
MANIFEST_SCHEMA: Final = "imgassets.manifest.v1"
SHARD_SCHEMA: Final = "imgassets.shard.v1"
SUMMARY_SCHEMA: Final = "imgassets.summary.v2"
ROLLUP_SCHEMA: Final = "imgassets.rollup.v2"
COMPARISON_SCHEMA: Final = "imgassets.comparison.v1"
TRACKS_SCHEMA: Final = "imgassets.tracks.v1"
TRACK_SUMMARY_SCHEMA: Final = "imgassets.track-summary.v1"


@cache
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name for field_name, info in model.model_fields.items() for name in (field_name, info.alias) if name
    )


class Record(BaseModel):
    """Base of every JSON document the pipeline writes; `to_json` is the one serialization.

    Read tolerantly, built strictly: JSON input (`model_validate_json`, how every stored record is read) may
    carry unknown fields, which are dropped, so records written by newer code still load; Python input (the
    constructor, `model_validate` of a dict) may not, so a misspelt field is an error, not a silent default.
    Either way the model holds, and `to_json` writes, exactly its own fields.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _known_fields_when_built_in_code(cls, data: Any, info: ValidationInfo) -> Any:
        if info.mode == "python" and isinstance(data, dict):
            unknown = sorted(str(name) for name in data.keys() - _field_names(cls))
            if unknown:
                raise PydanticCustomError(
                    "extra_forbidden",
                    "Extra inputs are not permitted: {fields}",
                    {"fields": ", ".join(unknown)},
                )
        return data

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def _drop_unknown_source_fields(value: Any, info: ValidationInfo) -> Any:
    """`Source` (messages.py) forbids unknown fields, as the Kafka message must; inside a record read from
    JSON, fields a newer writer added to it are dropped like any record's."""
    if info.mode == "json" and isinstance(value, dict):
        value = {k: v for k, v in value.items() if k in _field_names(Source)}
        frame = value.get("video_frame")
        if isinstance(frame, dict):
            value["video_frame"] = {k: v for k, v in frame.items() if k in _field_names(VideoFrame)}
    return value


#: The image's source as stored in a record (tolerant of newer fields when read from JSON).
RecordSource = Annotated[Source, BeforeValidator(_drop_unknown_source_fields)]


class KafkaRef(Record):
    """Which Kafka message announced an image (absent for images found by a backfill listing)."""

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class Box(Record):
    """Pixels in the (EXIF-corrected) image, clipped to its bounds."""

    x: int = Field(ge=0)
    y: int = Field(ge=0)
    w: int = Field(ge=0)
    h: int = Field(ge=0)


class Detection(Record):
    label: str
    class_id: int = Field(ge=0)
    confidence: float = Field(ge=0, le=1)
    box: Box


class Provenance(Record):
    kafka: KafkaRef | None
    dagster_run_id: str
    dagster_partition: str
    source: RecordSource | None
    uploaded_at: datetime | None
    processed_at: datetime
    inference_ms: float


class DetectionRecord(Record):
    schema_: Literal["imgassets.detections.v1"] = Field(DETECTION_SCHEMA, alias="schema")
    image_key: str
    source_image_path: str
    image_sha256: str
    image_width: int
    image_height: int
    model_used: str
    model_weights_sha256: str
    backend: str
    input_size: int
    confidence_threshold: float
    nms_threshold: float
    detections: list[Detection]
    counts: dict[str, int]
    provenance: Provenance

    @staticmethod
    def count(detections: list[Detection]) -> dict[str, int]:
        return dict(sorted(Counter(d.label for d in detections).items()))

    @property
    def source(self) -> str:
        """The camera or site the image came from (records without one: "unknown")."""
        return self.provenance.source.label if self.provenance.source else UNKNOWN_SOURCE

    @property
    def captured_at(self) -> datetime | None:
        """When the image was taken (imgassets/core/capture_time.py), else when it was uploaded."""
        taken = self.provenance.source.captured_at if self.provenance.source else None
        return taken or self.provenance.uploaded_at


class Rejection(Record):
    """An image that could not be used, and why (visible in the hour summary and the run's metadata)."""

    schema_: Literal["imgassets.rejection.v1"] = Field(REJECTION_SCHEMA, alias="schema")
    image_key: str
    reason: str
    partition: str
    run_id: str
    rejected_at: datetime
    kafka: KafkaRef | None = None


class ManifestEntry(Record):
    """A validated image, as raw_images accepted it."""

    key: str
    sha256: str
    size: int
    width: int
    height: int
    format: str
    kafka: KafkaRef | None = None
    uploaded_at: datetime | None = None
    source: RecordSource | None = None


class Manifest(Record):
    """Outcome of one raw_images run for one hour (one object per run: concurrent runs never collide)."""

    schema_: Literal["imgassets.manifest.v1"] = Field(MANIFEST_SCHEMA, alias="schema")
    partition: str
    run_id: str
    mode: Literal["batch", "backfill"]
    created_at: datetime
    accepted: list[ManifestEntry]
    rejected: list[Rejection]


class ImageResult(Record):
    """One image's line in a run's shard: what the hour summary counts."""

    image_key: str
    detection_key: str
    width: int
    height: int
    counts: dict[str, int]
    objects: int
    processed_at: datetime
    #: Camera or site id (absent in results written before sources existed).
    source: str | None = None

    @classmethod
    def of(cls, record: DetectionRecord, detection_key: str) -> ImageResult:
        return cls(
            image_key=record.image_key,
            detection_key=detection_key,
            width=record.image_width,
            height=record.image_height,
            counts=record.counts,
            objects=len(record.detections),
            processed_at=record.provenance.processed_at,
            source=record.source,
        )


class RejectedImage(Record):
    image_key: str
    reason: str


class Shard(Record):
    """Compact results of one detections run for one hour."""

    schema_: Literal["imgassets.shard.v1"] = Field(SHARD_SCHEMA, alias="schema")
    partition: str
    run_id: str
    created_at: datetime
    images: list[ImageResult]
    rejected: list[RejectedImage] = []


class RolledRejection(Record):
    image_key: str
    reason: str
    #: When the manifest or shard that rejected it was written: the latest reason wins.
    at: datetime


#: How many of the latest folded runs a roll-up and a summary name: a run's step retried finds its own run there.
RECENT_RUNS = 256


class HourRollup(Record):
    """The hour's counts so far, folded run by run: a sensor run adds only its own shard's and manifest's counts,
    so the roll-up reads and writes the same few kilobytes early and late in a busy hour. The latest images its
    counts hold are stored beside it (core/counted_images.py): a run bringing one of them again (a message produced
    twice, offsets replayed), or a re-queued batch, rebuilds the hour instead (`rebuilt`: each image's latest result
    wins), so nothing is counted twice. Derived state: lost or damaged, it is rebuilt from the shards and
    manifests, and a backfill and the compaction of a closed hour always rebuild it."""

    schema_: Literal["imgassets.rollup.v2"] = Field(ROLLUP_SCHEMA, alias="schema")
    partition: str
    #: How many runs' shards are folded in.
    run_count: int = 0
    #: The latest of them (at most RECENT_RUNS), and when each one's shard was written: a run folded again adds
    #: nothing.
    recent_runs: dict[str, datetime] = {}
    image_count: int = 0
    class_counts: dict[str, int] = {}
    images_with_class: dict[str, int] = {}
    images_without_objects: int = 0
    source_counts: dict[str, int] = {}
    #: Rejected images no folded shard detected (the latest reason of each).
    rejected: list[RolledRejection] = []

    def fold(self, shard: Shard | None, manifest: Manifest | None) -> HourRollup:
        """This roll-up with one run's shard and manifest added (either may be missing); a run already folded
        adds nothing."""
        run_id = shard.run_id if shard is not None else manifest.run_id if manifest is not None else None
        if run_id is None or run_id in self.recent_runs:
            return self
        results = shard.images if shard is not None else []
        class_counts, images_with, sources = (
            Counter(self.class_counts),
            Counter(self.images_with_class),
            Counter(self.source_counts),
        )
        for result in results:
            class_counts.update(result.counts)
            images_with.update(result.counts.keys())
            sources[result.source or UNKNOWN_SOURCE] += 1
        detected = {result.image_key for result in results}
        rejected = _latest_rejections(
            [r for r in self.rejected if r.image_key not in detected],
            [shard] if shard is not None else [],
            [manifest] if manifest is not None else [],
        )
        at = shard.created_at if shard is not None else manifest.created_at if manifest is not None else datetime.min
        recent = sorted({**self.recent_runs, run_id: at}.items(), key=lambda item: (item[1], item[0]))
        return HourRollup(
            partition=self.partition,
            run_count=self.run_count + (shard is not None),
            recent_runs=dict(recent[-RECENT_RUNS:]),
            image_count=self.image_count + len(results),
            class_counts=dict(class_counts.most_common()),
            images_with_class=dict(images_with.most_common()),
            images_without_objects=self.images_without_objects + sum(1 for result in results if not result.counts),
            source_counts=dict(sources.most_common()),
            rejected=[r for r in rejected if r.image_key not in detected],
        )

    @classmethod
    def rebuilt(cls, partition: str, shards: Iterable[Shard], manifests: Iterable[Manifest]) -> HourRollup:
        """The hour's roll-up from all its shards and manifests: per image the result of the latest shard wins
        (ties broken by run id), and per rejected image the latest reason (ties broken by reason)."""
        shards, manifests = list(shards), list(manifests)
        latest: dict[str, tuple[tuple[datetime, str], ImageResult]] = {}
        for shard in shards:
            for result in shard.images:
                held = latest.get(result.image_key)
                if held is None or held[0] < (shard.created_at, shard.run_id):
                    latest[result.image_key] = ((shard.created_at, shard.run_id), result)
        # Counted as one shard of each image's latest result, so the counts are those of `fold`.
        whole = Shard(partition=partition, run_id="", created_at=datetime.min, images=[r for _, r in latest.values()])
        counted = cls(partition=partition).fold(whole, None)
        runs = sorted((shard.created_at, shard.run_id) for shard in shards)
        rejected = _latest_rejections([], shards, manifests)
        return counted.model_copy(
            update={
                "run_count": len(runs),
                "recent_runs": {run_id: at for at, run_id in runs[-RECENT_RUNS:]},
                "rejected": [r for r in rejected if r.image_key not in latest],
            }
        )


def _latest_rejections(
    held: list[RolledRejection], shards: Iterable[Shard], manifests: Iterable[Manifest]
) -> list[RolledRejection]:
    """Per rejected image, its latest reason (ties broken by reason), by image key."""
    reasons = {rejection.image_key: rejection for rejection in held}
    found = [
        RolledRejection(image_key=rejection.image_key, reason=rejection.reason, at=manifest.created_at)
        for manifest in manifests
        for rejection in manifest.rejected
    ] + [
        RolledRejection(image_key=rejected.image_key, reason=rejected.reason, at=shard.created_at)
        for shard in shards
        for rejected in shard.rejected
    ]
    for rejection in found:
        current = reasons.get(rejection.image_key)
        if current is None or (current.at, current.reason) < (rejection.at, rejection.reason):
            reasons[rejection.image_key] = rejection
    return sorted(reasons.values(), key=lambda rejection: rejection.image_key)


class Summary(Record):
    """Per-hour roll-up: the successor of the original 'label@hour' job. Counts only, so its size does not grow
    with the hour's images; the per-image index is the hour's table (imgassets/core/table.py)."""

    #: v1 summaries also listed every image of the hour; they are read as v2, that list dropped (the hour's table
    #: holds it).
    schema_: Literal["imgassets.summary.v2", "imgassets.summary.v1"] = Field(SUMMARY_SCHEMA, alias="schema")
    partition: str
    generated_at: datetime
    image_count: int
    rejected_count: int
    total_objects: int
    class_counts: dict[str, int]
    images_with_class: dict[str, int]
    #: Images in which nothing was detected (empty frames); summaries written before it existed read as 0.
    images_without_objects: int = 0
    #: Images per camera or site (results without a source count as "unknown").
    source_counts: dict[str, int] = {}
    rejected: list[RejectedImage]
    #: The latest runs folded in (at most 20, newest last); all of them in summaries written before `run_count`.
    runs: list[str]
    #: How many runs the hour's counts come from (summaries written before it existed: as many as `runs` names).
    run_count: int | None = None

    @model_validator(mode="after")
    def _read_as_v2(self) -> Summary:
        """A v1 summary is read as v2 (its image list, an unknown field now, is already dropped)."""
        self.schema_ = SUMMARY_SCHEMA
        if self.run_count is None:
            self.run_count = len(self.runs)
        return self

    @classmethod
    def of(cls, rollup: HourRollup, generated_at: datetime) -> Summary:
        """The hour's counts from its roll-up; an image counts as rejected only if it has no detection."""
        return cls(
            partition=rollup.partition,
            generated_at=generated_at,
            image_count=rollup.image_count,
            rejected_count=len(rollup.rejected),
            total_objects=sum(rollup.class_counts.values()),
            class_counts=rollup.class_counts,
            images_with_class=rollup.images_with_class,
            images_without_objects=rollup.images_without_objects,
            source_counts=rollup.source_counts,
            rejected=[RejectedImage(image_key=r.image_key, reason=r.reason) for r in rollup.rejected],
            runs=list(rollup.recent_runs)[-20:],
            run_count=rollup.run_count,
        )


class ClassAgreement(Record):
    """One class in a comparison: objects each version found, and how many of B's matched one of A's."""

    label: str
    a: int
    b: int
    matched: int


class ImageDisagreement(Record):
    """An image where two versions' detections differ: boxes matched, and boxes only one of them has."""

    image_key: str
    objects_a: int
    objects_b: int
    matched: int
    only_a: int
    only_b: int
    #: only_a + only_b: how far the two versions are apart on this image (the compare page sorts by it).
    difference: int


class Agreement(Record):
    """How far two detector versions agree over some images: A's and B's objects, and how many of them matched."""

    #: Images with a record in both versions (only these are compared).
    images: int
    objects_a: int
    objects_b: int
    matched: int
    #: matched / objects_b and matched / objects_a; None when that version found nothing.
    precision: float | None
    recall: float | None

    @staticmethod
    def counted(images: int, objects_a: int, objects_b: int, matched: int) -> dict[str, int | float | None]:
        """The fields, with B's precision and recall against A."""
        return {
            "images": images,
            "objects_a": objects_a,
            "objects_b": objects_b,
            "matched": matched,
            "precision": round(matched / objects_b, 4) if objects_b else None,
            "recall": round(matched / objects_a, 4) if objects_a else None,
        }


class Comparison(Agreement):
    """A detector version (B) against the active one (A) for one hour (imgassets/detector/comparison.py).

    Boxes match when their class is the same and their IoU is at least `iou_threshold` (each box matches at
    most once, B's most confident first); B's precision and recall are measured against A as the reference.
    """

    schema_: Literal["imgassets.comparison.v1"] = Field(COMPARISON_SCHEMA, alias="schema")
    partition: str
    generated_at: datetime
    version_a: str
    version_b: str
    detector_a: str
    detector_b: str
    iou_threshold: float
    #: Images with a record in one version only (a backfill not finished, or an image rejected by one).
    only_in_a: int
    only_in_b: int
    classes: list[ClassAgreement]
    #: Every image where the versions differ, largest difference first.
    disagreements: list[ImageDisagreement]


#: An image-relative point [x, y] (0..1, x to the right, y down).
RelativePoint = Annotated[list[float], Field(min_length=2, max_length=2)]


class Observation(Record):
    """One frame of a track: the frame (and its size, to draw the box on it), when it was taken, and the box."""

    image_key: str
    captured_at: datetime
    width: int = Field(ge=1)
    height: int = Field(ge=1)
    confidence: float = Field(ge=0, le=1)
    box: Box


class Crossing(Record):
    """A track's anchor point crossed a line between two frames; `image_key` is the frame after it."""

    line: str
    direction: Literal["in", "out"]
    at: datetime
    image_key: str


class ZoneVisit(Record):
    """A run of frames with the track's anchor inside a zone; dwell is from the first to the last of them."""

    zone: str
    entered_at: datetime
    left_at: datetime
    dwell_s: float = Field(ge=0)
    #: The frame it entered in.
    image_key: str


class Track(Record):
    """One object followed across a source's frames. A track that goes on from the previous hour keeps its id
    (`continued`), and lists only this hour's frames, crossings and visits."""

    track_id: str
    label: str
    first_seen: datetime
    last_seen: datetime
    frames: int = Field(ge=1)
    continued: bool = False
    #: The anchor's path, image-relative (x, y), thinned to at most 32 points.
    path: list[RelativePoint]
    crossings: list[Crossing] = []
    zones: list[ZoneVisit] = []
    observations: list[Observation]


class LineCount(Record):
    in_: int = Field(0, ge=0, alias="in")
    out: int = Field(0, ge=0)


class ZoneCount(Record):
    visits: int = Field(0, ge=0)
    dwell_s: float = Field(0, ge=0)


class TrackCounts(Record):
    """What a source's hour adds up to: distinct objects per class, crossings per line, visits per zone."""

    frames: int = 0
    unique_objects: dict[str, int] = {}
    crossings: dict[str, LineCount] = {}
    zones: dict[str, ZoneCount] = {}

    @classmethod
    def of(cls, frames: int, tracks: list[Track], lines: list[str], zones: list[str]) -> TrackCounts:
        crossings = {name: LineCount() for name in lines}
        visits = {name: ZoneCount() for name in zones}
        for track in tracks:
            for crossing in track.crossings:
                held = crossings[crossing.line]
                crossings[crossing.line] = LineCount(
                    in_=held.in_ + (crossing.direction == "in"), out=held.out + (crossing.direction == "out")
                )
            for visit in track.zones:
                zone = visits[visit.zone]
                visits[visit.zone] = ZoneCount(visits=zone.visits + 1, dwell_s=round(zone.dwell_s + visit.dwell_s, 3))
        return cls(
            frames=frames,
            unique_objects=dict(sorted(Counter(track.label for track in tracks).items())),
            crossings=crossings,
            zones=visits,
        )


class RelativeLine(Record):
    """A source's counting line as the viewer draws it (image-relative points; sources.toml's `Line`)."""

    start: RelativePoint
    end: RelativePoint
    in_side: RelativePoint


class SourceTracks(Record):
    """The tracks of one source in one hour (imgassets/tracking/follow.py), with its lines and zones as they were."""

    schema_: Literal["imgassets.tracks.v1"] = Field(TRACKS_SCHEMA, alias="schema")
    partition: str
    source: str
    #: The detector version whose detections were tracked.
    version: str
    generated_at: datetime
    tracker: dict[str, float | int | str | list[str]]
    lines: dict[str, RelativeLine] = {}
    zones: dict[str, list[RelativePoint]] = {}
    counts: TrackCounts
    tracks: list[Track]


class TrackSummary(Record):
    """The hour's track counts of every source (one detector version): what the source page's timeline and the
    comparison of versions' unique counts read, one object per hour."""

    schema_: Literal["imgassets.track-summary.v1"] = Field(TRACK_SUMMARY_SCHEMA, alias="schema")
    partition: str
    version: str
    generated_at: datetime
    sources: dict[str, TrackCounts]
    #: Sources whose tracking failed in the last run (source → reason); their counts are the last ones stored.
    failed: dict[str, str] = {}

    def unique_objects(self) -> Counter[str]:
        """Objects per class over every source."""
        total: Counter[str] = Counter()
        for counts in self.sources.values():
            total.update(counts.unique_objects)
        return total
