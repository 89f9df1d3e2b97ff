import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from imgassets.core import layout
from imgassets.devtools.contract import LAYOUT_VECTORS_FILE

HOUR = datetime(2026, 11, 25, 4, 37, 12, tzinfo=UTC)
SHA = "ab" * 32


def test_image_key_contains_hour_hash_and_safe_name() -> None:
    key = layout.image_key(SHA, "My Photo (1).JPG", HOUR)
    assert key == "images/2026/11/25/04/abababababab-My-Photo-1.jpg"
    parsed = layout.parse_image_key(key)
    assert parsed.partition == "2026-11-25-04:00"
    assert parsed.detection_key == "detections/2026/11/25/04/abababababab-My-Photo-1.jpg.json"
    assert parsed.thumbnail_key == "thumbnails/2026/11/25/04/abababababab-My-Photo-1.jpg.jpg"
    assert key.startswith(layout.images_prefix(parsed.partition))


def test_same_basename_different_content_never_collides() -> None:
    a = layout.image_key("a" * 64, "/cams/1/cat.jpg", HOUR)
    b = layout.image_key("b" * 64, "/cams/2/cat.jpg", HOUR)
    assert a != b


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Mädchen im Schnee.jpg", "Madchen-im-Schnee.jpg"),
        ("日本語.png", "image.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\pic.jpeg", "pic.jpeg"),
        ("noext", "noext"),
        ("a" * 300 + ".jpg", "a" * 92 + ".jpg"),
    ],
)
def test_safe_name(name: str, expected: str) -> None:
    assert layout.safe_name(name) == expected


@pytest.mark.parametrize(
    "key",
    [
        "images/2026/11/25/04/../../../summaries/x.json",
        "/images/2026/11/25/04/abababababab-a.jpg",
        "detections/2026/11/25/04/abababababab-a.jpg",
        "images/2026/11/25/04/abababababab-..jpg",
        "images/2026/13/25/04/abababababab-a.jpg",
        "images/2026/11/25/04/ABABABABABAB-a.jpg",
        "images/2026/11/25/04/abababababab-a/b.jpg",
        "s3://other-bucket/images/2026/11/25/04/abababababab-a.jpg",
        "",
        "images/2026/11/25/04/abababababab-a.jpg\n",
        "images/2026/11/2\u0663/04/abababababab-a.jpg",
        "images/0000/11/25/04/abababababab-a.jpg",
    ],
)
def test_foreign_or_traversal_keys_are_refused(key: str) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.parse_image_key(key)


def test_partition_round_trips_through_summary_key() -> None:
    partition = layout.partition_key(HOUR)
    assert layout.partition_of_summary_key(layout.summary_key(partition)) == partition
    assert layout.manifest_key(partition, "run-1") == "manifests/2026/11/25/04/run-1.json"


def test_hour_is_utc_even_for_other_offsets() -> None:
    local = HOUR.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert layout.partition_key(local) == "2026-11-25-04:00"
    with pytest.raises(ValueError):
        layout.partition_key(datetime(2026, 1, 1))


def test_run_ids_cannot_escape_their_prefix() -> None:
    with pytest.raises(layout.InvalidKey):
        layout.shard_key("2026-11-25-04:00", "../x")


@pytest.mark.parametrize(
    "partition",
    [
        "2026-1-25-04:00",
        "2026-11-25-04:37",
        "\u0662\u0660\u0662\u0666-11-25-04:00",
        "2026-11-25-04:00\n",
        "0000-01-01-00:00",
    ],
)
def test_only_canonical_partition_keys_parse(partition: str) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.parse_partition(partition)


@pytest.mark.parametrize(
    "key", ["summaries/2026/11/25/04.json\n", "summaries/0000/01/01/00.json", "summaries/2026/13/01/00.json"]
)
def test_only_canonical_summary_keys_parse(key: str) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.partition_of_summary_key(key)


def test_years_before_1000_are_zero_padded() -> None:
    moment = datetime(999, 1, 1, 5, tzinfo=UTC)
    assert layout.partition_key(moment) == "0999-01-01-05:00"
    assert layout.image_key(SHA, "a.jpg", moment) == "images/0999/01/01/05/abababababab-a.jpg"
    with pytest.raises(ValueError, match="out of range"):
        layout.partition_key(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))


# The shared vectors (contract/layout-vectors.json): the viewer's layout.ts is tested against the same file
# (frontend/app/lib/layout.test.ts), so the two parsers agree case by case; layout.py is the reference.
VECTORS = json.loads(LAYOUT_VECTORS_FILE.read_text(encoding="utf-8"))


def _iso_hour(hour: datetime) -> str:
    return f"{hour.year:04d}-{hour.month:02d}-{hour.day:02d}T{hour.hour:02d}:00:00Z"


@pytest.mark.parametrize("vector", VECTORS["image_keys"]["valid"], ids=lambda v: v["why"])
def test_vector_image_key_parses_to_its_hour_and_derived_keys(vector: dict[str, str]) -> None:
    parsed = layout.parse_image_key(vector["key"])
    assert {
        "hour": _iso_hour(parsed.hour),
        "file": parsed.file,
        "partition": parsed.partition,
        "detection_key": parsed.detection_key,
        "rejection_key": parsed.rejection_key,
        "thumbnail_key": parsed.thumbnail_key,
    } == {
        name: vector[name] for name in ("hour", "file", "partition", "detection_key", "rejection_key", "thumbnail_key")
    }
    assert vector["key"].startswith(layout.images_prefix(parsed.partition))


@pytest.mark.parametrize("vector", VECTORS["image_keys"]["invalid"], ids=lambda v: v["why"])
def test_vector_image_key_is_refused(vector: dict[str, str]) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.parse_image_key(vector["key"])


@pytest.mark.parametrize("vector", VECTORS["partitions"]["valid"], ids=lambda v: v["partition"])
def test_vector_partition_maps_to_its_hour_and_keys(vector: dict[str, str]) -> None:
    partition = vector["partition"]
    hour = layout.parse_partition(partition)
    assert _iso_hour(hour) == vector["hour"]
    assert layout.partition_key(hour) == partition
    assert layout.summary_key(partition) == vector["summary_key"]
    assert layout.partition_of_summary_key(vector["summary_key"]) == partition
    assert layout.images_prefix(partition) == vector["images_prefix"]
    assert layout.detections_prefix(partition) == vector["detections_prefix"]
    assert layout.rejections_prefix(partition) == vector["rejections_prefix"]
    assert layout.manifests_prefix(partition) == vector["manifests_prefix"]
    assert layout.shards_prefix(partition) == vector["shards_prefix"]


@pytest.mark.parametrize("vector", VECTORS["partitions"]["invalid"], ids=lambda v: v["why"])
def test_vector_partition_is_refused(vector: dict[str, str]) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.parse_partition(vector["partition"])
    with pytest.raises(layout.InvalidKey):
        layout.summary_key(vector["partition"])


@pytest.mark.parametrize("vector", VECTORS["summary_keys"]["valid"], ids=lambda v: v["key"])
def test_vector_summary_key_maps_to_its_partition(vector: dict[str, str]) -> None:
    assert layout.partition_of_summary_key(vector["key"]) == vector["partition"]
    assert layout.summary_key(vector["partition"]) == vector["key"]


@pytest.mark.parametrize("vector", VECTORS["summary_keys"]["invalid"], ids=lambda v: v["why"])
def test_vector_summary_key_is_refused(vector: dict[str, str]) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.partition_of_summary_key(vector["key"])


def test_vectors_cover_the_cases_both_sides_must_refuse() -> None:
    reasons = {v["why"] for v in VECTORS["image_keys"]["invalid"]}
    keys = [v["key"] for v in VECTORS["image_keys"]["invalid"]]
    assert any(k.endswith("\n") for k in keys), "a trailing newline"
    assert any(not k.isascii() and any(c.isdigit() and not c.isascii() for c in k) for k in keys), "non-ASCII digits"
    assert any(".." in k for k in keys), "traversal"
    assert len(reasons) == len(keys), "each invalid vector says why it is invalid, once"
