"""The S3 key layout: the only place that builds or parses object keys.

    images/YYYY/MM/DD/HH/<sha12>-<name>.<ext>         uploaded image (hour = upload hour, UTC)
    detections/YYYY/MM/DD/HH/<image file>.json        one detection record per image
    rejections/YYYY/MM/DD/HH/<image file>.json        one rejection record per rejected image
    thumbnails/YYYY/MM/DD/HH/<image file>.jpg         small JPEG (longest side 320 px) for the viewer's grid
    manifests/YYYY/MM/DD/HH/<run id>.json             what one run of raw_images accepted/rejected
    shards/YYYY/MM/DD/HH/<run id>.json                compact per-image results of one detections run
    summaries/YYYY/MM/DD/HH.json                      the hour's summary (merged from shards/manifests)
    rollups/YYYY/MM/DD/HH.json                        the hour's counts so far and the latest runs folded (derived)
    rollups/YYYY/MM/DD/HH.recent                      hashes of the latest images those counts hold (derived)
    tables/<table>/date=YYYY-MM-DD/hour=HH/part-0.parquet   the hour as a columnar table (detections, images)
    tables/<table>/date=YYYY-MM-DD/hour=HH/run-<run id>.parquet   one run's rows, until a compaction merges them
    ingest/sha256/<sha256>.json                       dedupe marker: content already ingested, and where
    candidates/<forward id>/YYYY/MM/DD/HH/<run id>.parquet   one run's candidate boxes per image (detector versions)
    versions/<version>/detections/YYYY/MM/DD/HH/<image file>.json   another detector version's records
    versions/<version>/rejections/YYYY/MM/DD/HH/<image file>.json   … and its rejections
    versions/<version>/comparisons/YYYY/MM/DD/HH.json  that version against the active one, for the hour
    tracks/YYYY/MM/DD/HH/<source>.json                 one source's tracks of the hour (imgassets/tracking/follow.py)
    tracks/YYYY/MM/DD/HH.json                          the hour's track counts, every source
    versions/<version>/tracks/…                        the same, of another detector version's detections

The records of the active detector version are the pipeline's own `detections/`; every other version
(imgassets/detector/versions.py) writes under `versions/<version>/` only. Candidates are keyed by what a forward
pass depends on (backend, input size, weights), so versions differing only in thresholds share them.

The tables use Hive-style partition directories, so Trino, Spark, Athena or DuckDB can read `tables/<table>/`
as one partitioned table (partition columns `date` and `hour`). Each run appends its own object to the hour
(`run-<run id>.parquet`), and a compaction merges them into `part-0.parquet` (imgassets/core/table.py).

The content hash prefix makes image keys collision-free (two `cat.jpg` from different folders differ), the
hour directory lets a backfill list one hour by prefix, and per-run manifests/shards mean concurrent runs of
one hour never read-modify-write a shared object.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

IMAGES = "images/"
DETECTIONS = "detections/"
REJECTIONS = "rejections/"
THUMBNAILS = "thumbnails/"
MANIFESTS = "manifests/"
SHARDS = "shards/"
SUMMARIES = "summaries/"
ROLLUPS = "rollups/"
INGEST_MARKERS = "ingest/sha256/"
TABLES = "tables/"
CANDIDATES = "candidates/"
VERSIONS = "versions/"
TRACKS = "tracks/"
#: The columnar tables of detections (imgassets/core/table.py): one row per detection, one row per image.
DETECTION_TABLES = ("detections", "images")
#: … and of tracks (imgassets/tracking/tables.py): one row per track, one row per event (crossing or zone visit).
TRACK_TABLES = ("tracks", "events")
TABLE_NAMES = DETECTION_TABLES + TRACK_TABLES

#: Dagster's hourly partition key format.
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"
_HOUR_PATH_FORMAT = "%Y/%m/%d/%H"
_NAME_MAX = 96
# Every pattern is matched whole (fullmatch: `$` would also accept a trailing newline) and ASCII-only (`\d`
# would also accept other scripts' digits, which strptime reads as numbers): a key parses only if it is
# exactly what the builders below produce.
_IMAGE_KEY = re.compile(
    r"images/(?P<hour>\d{4}/\d{2}/\d{2}/\d{2})/(?P<file>(?P<sha12>[0-9a-f]{12})-"
    rf"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{{0,{_NAME_MAX - 1}}}))",
    re.ASCII,
)
_PARTITION = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}:00", re.ASCII)
_SUMMARY_KEY = re.compile(r"summaries/(\d{4}/\d{2}/\d{2}/\d{2})\.json", re.ASCII)
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_VERSION = re.compile(r"[a-z][a-z0-9_]{0,31}", re.ASCII)
#: What a camera or site id may be: short, and safe in keys, URLs, file names and SQL literals alike.
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}", re.ASCII)
#: backend-inputsize-weights, and a hash of how the model is read when that is not the default (forward_id).
_FORWARD_ID = re.compile(r"[a-z]+-\d{2,4}-[0-9a-f]{16}(?:-[0-9a-f]{8})?", re.ASCII)


class InvalidKey(ValueError):
    """A key that is not one of ours (wrong prefix, traversal, malformed)."""


@dataclass(frozen=True)
class ImageKey:
    """A parsed, validated image key."""

    key: str
    hour: datetime
    file: str

    @property
    def partition(self) -> str:
        return partition_key(self.hour)

    @property
    def detection_key(self) -> str:
        return f"{DETECTIONS}{_hour_path(self.hour)}/{self.file}.json"

    @property
    def rejection_key(self) -> str:
        return f"{REJECTIONS}{_hour_path(self.hour)}/{self.file}.json"

    def version_detection_key(self, version: str) -> str:
        """The image's record under a detector version that is not the active one."""
        return f"{version_prefix(version)}{self.detection_key}"

    def version_rejection_key(self, version: str) -> str:
        return f"{version_prefix(version)}{self.rejection_key}"

    @property
    def thumbnail_key(self) -> str:
        return f"{THUMBNAILS}{_hour_path(self.hour)}/{self.file}.jpg"


def floor_hour(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"timestamp out of range in UTC: {moment.isoformat()}") from None
    return utc.replace(minute=0, second=0, microsecond=0)


def partition_key(moment: datetime) -> str:
    """Dagster partition key of the UTC hour containing `moment` (`PARTITION_FORMAT`, year zero-padded)."""
    hour = floor_hour(moment)
    return f"{hour.year:04d}-{hour.month:02d}-{hour.day:02d}-{hour.hour:02d}:00"


def parse_partition(partition: str) -> datetime:
    """Inverse of `partition_key`: accepts exactly the keys it produces."""
    if not isinstance(partition, str) or not _PARTITION.fullmatch(partition):
        raise InvalidKey(f"not an hourly partition key: {partition!r}")
    try:
        return datetime.strptime(partition, PARTITION_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidKey(f"not an hourly partition key: {partition!r}") from exc


def _hour_path(hour: datetime) -> str:
    # Not strftime("%Y"): it does not zero-pad years before 1000 on every platform.
    utc = floor_hour(hour)
    return f"{utc.year:04d}/{utc.month:02d}/{utc.day:02d}/{utc.hour:02d}"


def safe_name(original: str) -> str:
    """An ASCII, S3- and URL-safe file name derived from any user file name (unicode, spaces…)."""
    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_stem).strip("-_") or "image"
    ext = re.sub(r"[^a-z0-9]", "", ext.lower())[:8]
    budget = _NAME_MAX - (len(ext) + 1 if ext else 0)
    return f"{ascii_stem[:budget]}.{ext}" if ext else ascii_stem[:budget]


def image_key(sha256: str, original_name: str, uploaded_at: datetime) -> str:
    """Key for a new upload: its hour, the content hash prefix, and a safe form of its name."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InvalidKey("sha256 must be 64 lowercase hex digits")
    key = f"{IMAGES}{_hour_path(uploaded_at)}/{sha256[:12]}-{safe_name(original_name)}"
    parse_image_key(key)
    return key


def parse_image_key(key: str) -> ImageKey:
    """Validates that `key` is an image key of our layout (no traversal, no foreign prefix)."""
    if not isinstance(key, str) or len(key) > 256:
        raise InvalidKey("image key must be a string of at most 256 characters")
    match = _IMAGE_KEY.fullmatch(key)
    if match is None or ".." in key or "//" in key:
        raise InvalidKey(f"not an image key of this pipeline: {key!r}")
    try:
        hour = datetime.strptime(match["hour"], _HOUR_PATH_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidKey(f"image key has an impossible hour: {key!r}") from exc
    return ImageKey(key=key, hour=hour, file=match["file"])


def images_prefix(partition: str) -> str:
    return f"{IMAGES}{_hour_path(parse_partition(partition))}/"


def detections_prefix(partition: str) -> str:
    return f"{DETECTIONS}{_hour_path(parse_partition(partition))}/"


def rejections_prefix(partition: str) -> str:
    return f"{REJECTIONS}{_hour_path(parse_partition(partition))}/"


def manifests_prefix(partition: str) -> str:
    return f"{MANIFESTS}{_hour_path(parse_partition(partition))}/"


def shards_prefix(partition: str) -> str:
    return f"{SHARDS}{_hour_path(parse_partition(partition))}/"


def _valid(pattern: re.Pattern[str], value: object, what: str) -> str:
    """`value`, if it is a string that `pattern` matches whole; else InvalidKey naming `what` it should be."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidKey(f"not {what}: {value!r}")
    return value


def _run_file(run_id: str) -> str:
    return f"{_valid(_RUN_ID, run_id, 'a run id')}.json"


def manifest_key(partition: str, run_id: str) -> str:
    return manifests_prefix(partition) + _run_file(run_id)


def shard_key(partition: str, run_id: str) -> str:
    return shards_prefix(partition) + _run_file(run_id)


def summary_key(partition: str) -> str:
    return f"{SUMMARIES}{_hour_path(parse_partition(partition))}.json"


def rollup_key(partition: str) -> str:
    return f"{ROLLUPS}{_hour_path(parse_partition(partition))}.json"


def rollup_index_key(partition: str) -> str:
    """The hashes of the latest images the hour's roll-up has counted (imgassets/core/counted_images.py)."""
    return f"{ROLLUPS}{_hour_path(parse_partition(partition))}.recent"


def partition_of_summary_key(key: str) -> str:
    """Inverse of `summary_key` (the viewer's timeline lists `summaries/`)."""
    match = _SUMMARY_KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidKey(f"not a summary key: {key!r}")
    try:
        hour = datetime.strptime(match[1], _HOUR_PATH_FORMAT).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidKey(f"summary key has an impossible hour: {key!r}") from exc
    return partition_key(hour)


def table_day_prefix(table: str, day: datetime) -> str:
    """All hours of one UTC day of a table (what a range query lists)."""
    if table not in TABLE_NAMES:
        raise InvalidKey(f"not a table: {table!r}")
    utc = floor_hour(day)
    return f"{TABLES}{table}/date={utc.year:04d}-{utc.month:02d}-{utc.day:02d}/"


def table_hour_prefix(table: str, partition: str) -> str:
    """Every object of one hour of a table: its compacted part and the runs' parts not merged yet."""
    hour = parse_partition(partition)
    return f"{table_day_prefix(table, hour)}hour={hour.hour:02d}/"


def table_key(table: str, partition: str) -> str:
    """The hour's compacted object of a table."""
    return f"{table_hour_prefix(table, partition)}part-0.parquet"


def table_part_key(table: str, partition: str, run_id: str) -> str:
    """One run's rows of the hour, until a compaction merges them into `table_key`."""
    return f"{table_hour_prefix(table, partition)}run-{_valid(_RUN_ID, run_id, 'a run id')}.parquet"


_TABLE_KEY = re.compile(
    r"tables/[a-z]+/date=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/(?:part-0|run-([0-9A-Za-z_-]{1,64}))\.parquet", re.ASCII
)


@dataclass(frozen=True)
class TableObject:
    """A table object's hour, and the run whose part it is (None: the compacted part)."""

    hour: datetime
    run_id: str | None


def parse_table_key(key: str) -> TableObject:
    """The upload hour and run of a table object (inverse of `table_key` and `table_part_key`)."""
    match = _TABLE_KEY.fullmatch(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidKey(f"not a table key: {key!r}")
    return TableObject(parse_partition(f"{match[1]}-{match[2]}:00"), match[3])


def version_prefix(version: str) -> str:
    """Where a detector version other than the active one writes (its records, rejections and comparisons)."""
    return f"{VERSIONS}{_valid(_VERSION, version, 'a detector version name')}/"


def version_detections_prefix(version: str, partition: str) -> str:
    return version_prefix(version) + detections_prefix(partition)


def version_rejections_prefix(version: str, partition: str) -> str:
    return version_prefix(version) + rejections_prefix(partition)


def comparison_key(version: str, partition: str) -> str:
    """The hour's comparison of `version` with the active version."""
    return f"{version_prefix(version)}comparisons/{_hour_path(parse_partition(partition))}.json"


def tracks_prefix(partition: str, version: str | None = None) -> str:
    """The hour's track documents, one per source, of the active version (None) or another version."""
    prefix = version_prefix(version) if version is not None else ""
    return f"{prefix}{TRACKS}{_hour_path(parse_partition(partition))}/"


def tracks_key(partition: str, source: str, version: str | None = None) -> str:
    return f"{tracks_prefix(partition, version)}{_valid(SOURCE_NAME, source, 'a source name')}.json"


def track_summary_key(partition: str, version: str | None = None) -> str:
    """The hour's track counts of every source (beside the hour's folder of per-source documents)."""
    return f"{tracks_prefix(partition, version).removesuffix('/')}.json"


def candidates_prefix(forward_id: str, partition: str) -> str:
    """The hour's candidate shards of one forward pass configuration (`DetectorVersion.forward_id`)."""
    return (
        f"{CANDIDATES}{_valid(_FORWARD_ID, forward_id, 'a forward pass id')}/{_hour_path(parse_partition(partition))}/"
    )


def candidates_key(forward_id: str, partition: str, run_id: str) -> str:
    return candidates_prefix(forward_id, partition) + _run_file(run_id).removesuffix(".json") + ".parquet"


def ingest_marker_key(sha256: str) -> str:
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise InvalidKey("sha256 must be 64 lowercase hex digits")
    return f"{INGEST_MARKERS}{sha256}.json"
