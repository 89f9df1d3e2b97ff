from datetime import datetime, timedelta, timezone

import pytest

from imgassets import layout

HOUR = datetime(2026, 11, 25, 4, 37, 12, tzinfo=timezone.utc)
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


@pytest.mark.parametrize("partition", ["2026-1-25-04:00", "2026-11-25-04:37", "\u0662\u0660\u0662\u0666-11-25-04:00", "2026-11-25-04:00\n", "0000-01-01-00:00"])
def test_only_canonical_partition_keys_parse(partition: str) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.parse_partition(partition)


@pytest.mark.parametrize("key", ["summaries/2026/11/25/04.json\n", "summaries/0000/01/01/00.json", "summaries/2026/13/01/00.json"])
def test_only_canonical_summary_keys_parse(key: str) -> None:
    with pytest.raises(layout.InvalidKey):
        layout.partition_of_summary_key(key)


def test_years_before_1000_are_zero_padded() -> None:
    moment = datetime(999, 1, 1, 5, tzinfo=timezone.utc)
    assert layout.partition_key(moment) == "0999-01-01-05:00"
    assert layout.image_key(SHA, "a.jpg", moment) == "images/0999/01/01/05/abababababab-a.jpg"
    with pytest.raises(ValueError, match="out of range"):
        layout.partition_key(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))))
