"""Tracking without the detector: frames built from known boxes, so every expected track, crossing and visit is
known. The real detector on a clip of known truth is in test_tracking_truth.py, the whole journey in
test_journeys.py."""

import io
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgassets.core.capture_time import photo_time, video_start
from imgassets.core.records import Box, SourceTracks
from imgassets.core.sources import SourceConfig, SourcesError, load_sources
from imgassets.tracking.follow import Frame, Sighting, tail, track_source

WIDTH, HEIGHT = 960, 540
HOUR = datetime(2026, 12, 6, 10, tzinfo=UTC)
GATE = {"gate": {"from": [0.5, 0.0], "to": [0.5, 1.0], "in_side": [1.0, 0.5]}}
LEFT = {"left": {"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}
CONFIG = SourceConfig.model_validate({"lines": GATE, "zones": LEFT})


def _frames(paths: dict[str, list[float]], start: datetime = HOUR, fps: float = 8.0) -> list[Frame]:
    """One frame per step: each object (label-name → anchor x per frame, image-relative) as a 60×150 box whose
    bottom centre is at that x, on its own row so objects never overlap."""
    steps = max(len(xs) for xs in paths.values())
    frames = []
    for index in range(steps):
        sightings = []
        for row, (name, xs) in enumerate(sorted(paths.items())):
            if index < len(xs):
                x = round(xs[index] * WIDTH) - 30
                box = Box(x=x, y=40 + row * 160, w=60, h=150)
                sightings.append(Sighting(name.split("-")[0], 0.9, box))
        key = f"images/{start:%Y/%m/%d/%H}/{index:012x}-frame{index:03d}.jpg"
        frames.append(Frame(key, start + timedelta(seconds=index / fps), WIDTH, HEIGHT, tuple(sightings)))
    return frames


def _walk(xs: list[float], step: float = 0.01) -> list[float]:
    """The anchor's x from waypoint to waypoint, `step` per frame."""
    path = [xs[0]]
    for target in xs[1:]:
        while abs(target - path[-1]) > step:
            path.append(path[-1] + (step if target > path[-1] else -step))
        path.append(target)
    return path


def _track(frames: list[Frame], carried: Sequence[Frame] = (), previous: SourceTracks | None = None, **changes):
    config = CONFIG.model_copy(update={"tracker": CONFIG.tracker.model_copy(update=changes)}) if changes else CONFIG
    partition = f"{frames[0].captured_at:%Y-%m-%d-%H}:00"
    return track_source(
        frames, list(carried), previous, config, partition=partition, source="cam", version="default", generated_at=HOUR
    )


def _directions(document: SourceTracks) -> list[str]:
    return [crossing.direction for track in document.tracks for crossing in track.crossings]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=0.05, max_value=0.95), min_size=2, max_size=5))
def test_one_walker_is_one_object_crossing_where_its_path_does(waypoints: list[float]) -> None:
    """Any walk back and forth: one track, and a crossing each time the anchor changes side, "in" to the right."""
    xs = _walk([round(x, 3) for x in waypoints])
    document = _track(_frames({"person": xs}))
    pixels = [round(x * WIDTH) for x in xs]  # where the boxes are drawn
    sides = [pixel > WIDTH / 2 for pixel in pixels if pixel != WIDTH / 2]
    expected = ["in" if now else "out" for before, now in zip(sides, sides[1:], strict=False) if before != now]
    assert document.counts.unique_objects == {"person": 1}
    assert _directions(document) == expected
    assert document.counts.crossings["gate"].in_ == expected.count("in")
    assert document.tracks[0].frames == len(xs)


def test_two_walkers_a_still_dog_and_a_visit() -> None:
    document = _track(_frames({"person-a": _walk([0.1, 0.9]), "person-b": _walk([0.9, 0.2]), "dog": [0.3] * 81}))
    assert document.counts.unique_objects == {"dog": 1, "person": 2}
    assert document.counts.crossings["gate"].model_dump(by_alias=True) == {"in": 1, "out": 1}
    # The dog is in the zone from the first frame, walker a leaves it, walker b enters it: three visits.
    assert document.counts.zones["left"].visits == 3
    dog = next(track for track in document.tracks if track.label == "dog")
    assert dog.zones[0].dwell_s == pytest.approx(80 / 8)


def test_the_same_frames_in_any_order_give_the_same_tracks() -> None:
    frames = _frames({"person-a": _walk([0.1, 0.9]), "person-b": _walk([0.9, 0.2])})
    shuffled = frames[:]
    random.Random(7).shuffle(shuffled)
    assert _track(shuffled) == _track(frames)


def test_a_flicker_is_not_an_object() -> None:
    """A detection in one frame is never a track; one in two frames is one from `min_frames` = 2 (the default)."""
    frames = _frames({"person": _walk([0.1, 0.4])})
    cat = Sighting("cat", 0.9, Box(x=800, y=400, w=40, h=40))
    dog = Sighting("dog", 0.9, Box(x=700, y=300, w=60, h=40))
    for index, extra in [(5, (cat,)), (9, (dog,)), (10, (dog,))]:
        frame = frames[index]
        frames[index] = Frame(frame.image_key, frame.captured_at, WIDTH, HEIGHT, (*frame.sightings, *extra))
    assert _track(frames).counts.unique_objects == {"dog": 1, "person": 1}
    assert _track(frames, min_frames=3).counts.unique_objects == {"person": 1}


@pytest.mark.parametrize("algorithm", ["ocsort", "bytetrack"])
def test_a_track_across_the_hour_boundary_keeps_its_id(algorithm: str) -> None:
    """A walker crossing the line just after the hour turns: the next hour replays the last seconds, continues
    the track under the previous hour's id, and counts the crossing once, in the hour it happened."""
    xs = _walk([0.1, 0.9], step=0.005)  # 161 frames at 8 fps: 20 s
    start = HOUR - timedelta(seconds=10)
    frames = _frames({"person": xs}, start=start)
    before = [frame for frame in frames if frame.captured_at < HOUR]
    after = [frame for frame in frames if frame.captured_at >= HOUR]
    after = [
        Frame(
            f.image_key.replace(f"{start:%Y/%m/%d/%H}", f"{HOUR:%Y/%m/%d/%H}"),
            f.captured_at,
            WIDTH,
            HEIGHT,
            f.sightings,
        )
        for f in after
    ]
    first = _track(before, algorithm=algorithm)
    second = _track(after, tail(before, 5.0), first, algorithm=algorithm)
    whole = _track(before + after, algorithm=algorithm)
    assert [t.track_id for t in second.tracks] == [t.track_id for t in first.tracks]
    assert second.tracks[0].continued and not first.tracks[0].continued
    assert _directions(first) + _directions(second) == _directions(whole) == ["in"]
    assert second.tracks[0].frames == len(after)
    assert all(o.captured_at >= HOUR for o in second.tracks[0].observations)


def test_bytetrack_and_ocsort_are_both_available() -> None:
    frames = _frames({"person": _walk([0.2, 0.8])})
    assert _track(frames, algorithm="bytetrack").counts == _track(frames, algorithm="ocsort").counts


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[sources.cam.lines.gate]\nfrom = [0.5, 0]\nto = [0.5, 1.5]\nin_side = [1, 0.5]\n", "to.1"),
        ("[sources.cam.lines.gate]\nfrom = [0.5, 0]\nto = [0.5, 0]\nin_side = [1, 0.5]\n", "same point"),
        ("[sources.cam.lines.gate]\nfrom = [0.5, 0]\nto = [0.5, 1]\nin_side = [0.5, 0.5]\n", "lies on the line"),
        ("[sources.cam.zones.z]\npoints = [[0, 0], [1, 1]]\n", "at least 3"),
        ("[sources.cam.zones.z]\npoints = [[0, 0], [0.5, 0.5], [1, 1]]\n", "no area"),
        ("[sources.cam]\nlanes = 3\n", "lanes"),
        ('[sources."bad name"]\n', "not a source name"),
        ('[sources.cam.zones."Big Zone"]\npoints = [[0, 0], [1, 0], [1, 1]]\n', "not a line or zone name"),
        ('[tracker]\nalgorithm = "kalman"\n', "algorithm"),
        ("[tracker]\nmax_gap_s = 0\n", "max_gap_s"),
        ("[sources.cam\n", "sources.toml"),
    ],
)
def test_a_bad_sources_file_is_refused_naming_what(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(SourcesError) as raised:
        load_sources(path)
    assert str(path) in str(raised.value) and error in str(raised.value), raised.value


def test_a_source_overrides_the_default_tracker_settings_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text("[tracker]\nmax_gap_s = 4.0\nmin_frames = 3\n\n[sources.cam.tracker]\nmin_frames = 5\n")
    sources = load_sources(path)
    assert (sources.get("cam").tracker.max_gap_s, sources.get("cam").tracker.min_frames) == (4.0, 5)
    assert (sources.get("other").tracker.max_gap_s, sources.get("other").tracker.min_frames) == (4.0, 3)
    assert not sources.get("other").lines
    with pytest.raises(SourcesError, match="is not a file"):
        load_sources(tmp_path / "missing.toml")


def test_the_project_sources_file_loads() -> None:
    assert "gate" in load_sources(None).get("cam-gate").lines


def _jpeg(exif: dict[int, str] | None) -> bytes:
    image = Image.new("RGB", (8, 8))
    out = io.BytesIO()
    if exif is None:
        image.save(out, "JPEG")
        return out.getvalue()
    tags = Image.Exif()
    tags.get_ifd(0x8769).update(exif)
    image.save(out, "JPEG", exif=tags)
    return out.getvalue()


def test_a_photo_is_taken_when_its_exif_says() -> None:
    assert photo_time(_jpeg({0x9003: "2026:12:06 11:30:15", 0x9011: "+02:00"})) == datetime(
        2026, 12, 6, 9, 30, 15, tzinfo=UTC
    )
    assert photo_time(_jpeg({0x9003: "2026:12:06 11:30:15"})) == datetime(2026, 12, 6, 11, 30, 15, tzinfo=UTC)
    assert photo_time(_jpeg(None)) is None
    assert photo_time(_jpeg({0x9003: "not a time"})) is None
    assert photo_time(b"not an image") is None


def test_a_video_starts_when_its_container_says(tmp_path: Path) -> None:
    """OpenCV writes no creation time (0: MP4's epoch, 1904), so the clip has none; with its `mvhd` box's
    creation time set (seconds since 1904, as a camera writes it), the video starts then."""
    import struct

    import cv2
    import numpy as np

    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 4.0, (32, 32))
    for _ in range(4):
        writer.write(np.zeros((32, 32, 3), dtype=np.uint8))
    writer.release()
    assert video_start(path) is None
    data = bytearray(path.read_bytes())
    box = data.find(b"mvhd")
    assert box > 0 and data[box + 4] == 0  # version 0: 32-bit times after version and flags
    taken = datetime(2026, 12, 6, 8, 15, tzinfo=UTC)
    data[box + 8 : box + 12] = struct.pack(">I", int((taken - datetime(1904, 1, 1, tzinfo=UTC)).total_seconds()))
    path.write_bytes(bytes(data))
    assert video_start(path) == taken
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    assert video_start(tmp_path / "broken.mp4") is None
