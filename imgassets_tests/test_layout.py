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
