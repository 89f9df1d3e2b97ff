"""The real detector (YOLOv4-tiny, ONNX Runtime, the default version's thresholds) on a clip whose truth is known
by construction (imgassets/devtools/synthetic_clips.py: real crops over a real background, encoded as an mp4 and
decoded again), then the tracker: the counts must be the clip's, and the MOTA/IDF1 figures and the tracker's cost
against the forward pass are printed (figures, not asserts, for timings)."""

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import cv2
import pytest

from imgassets.core.sources import SourceConfig
from imgassets.detector import load_detector
from imgassets.devtools.synthetic_clips import Clip, make_clip, tracking_scores
from imgassets.tracking.follow import Frame, Sighting, tail, track_source
from imgassets_tests.conftest import FIGURES, THRESHOLDS

HOUR = datetime(2026, 12, 6, 10, tzinfo=UTC)


def _key(hour: datetime, index: int) -> str:
    return f"images/{hour:%Y/%m/%d/%H}/{index:012x}-gate-f{index:06d}.jpg"


class Detected:
    """The clip's frames as the pipeline sees them, and how long the forward passes took."""

    def __init__(self, clip: Clip) -> None:
        detector = load_detector("onnx", 416)
        capture = cv2.VideoCapture(str(clip.path))
        self.clip, self.sightings, self.forward_s = clip, [], 0.0
        while True:
            ok, pixels = capture.read()
            if not ok:
                break
            started = time.perf_counter()
            (found,) = detector.detect([pixels], THRESHOLDS)
            self.forward_s += time.perf_counter() - started
            self.sightings.append(tuple(Sighting(d.label, d.confidence, d.box) for d in found))
        capture.release()
        assert len(self.sightings) == clip.frames

    def frames(self, start: datetime = HOUR) -> list[Frame]:
        """Frame i taken at `start` + i / fps, uploaded in the hour it was taken."""
        taken = [start + timedelta(seconds=index / self.clip.fps) for index in range(self.clip.frames)]
        return [
            Frame(_key(at.replace(minute=0, second=0, microsecond=0), i), at, self.clip.width, self.clip.height, seen)
            for i, (at, seen) in enumerate(zip(taken, self.sightings, strict=True))
        ]

    def config(self, algorithm: str = "ocsort") -> SourceConfig:
        return SourceConfig.model_validate(self.clip.camera() | {"tracker": {"algorithm": algorithm}})


@pytest.fixture(scope="module")
def detected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Detected]:
    yield Detected(make_clip(tmp_path_factory.mktemp("clip")))


def _track(frames: list[Frame], config: SourceConfig, carried: Sequence[Frame] = (), previous=None):
    partition = f"{frames[0].captured_at:%Y-%m-%d-%H}:00"
    return track_source(
        frames,
        list(carried),
        previous,
        config,
        partition=partition,
        source="gate",
        version="default",
        generated_at=HOUR,
    )


def test_the_clip_is_counted_as_it_was_made(detected: Detected) -> None:
    """Three people (one leaves the zone and comes back, two cross each other), a truck, a dog standing still:
    the distinct objects, the crossings each way and the zone visits are the clip's truth."""
    clip = detected.clip
    document = _track(detected.frames(), detected.config())
    assert document.counts.unique_objects == clip.unique()
    assert document.counts.crossings["gate"].model_dump(by_alias=True) == clip.crossing_counts()
    assert document.counts.zones["left-half"].visits == sum(clip.zone_visits.values())
    index = {frame.image_key: i for i, frame in enumerate(detected.frames())}
    predicted = [
        (index[seen.image_key], track.track_id, seen.box.x, seen.box.y, seen.box.w, seen.box.h)
        for track in document.tracks
        for seen in track.observations
    ]
    scores = tracking_scores(clip, predicted)
    assert scores["id_switches"] == 0 and scores["idf1"] >= 0.95, scores


def test_the_clip_across_an_hour_boundary_is_counted_once(detected: Detected) -> None:
    """The same clip taken from 6 s before the hour: each hour is tracked on its own (the later one replaying
    the earlier one's last seconds), and the distinct track ids and the crossings over both are the truth."""
    clip = detected.clip
    frames = detected.frames(HOUR - timedelta(seconds=6))
    before = [frame for frame in frames if frame.captured_at < HOUR]
    after = [frame for frame in frames if frame.captured_at >= HOUR]
    config = detected.config()
    first = _track(before, config)
    second = _track(after, config, tail(before, config.tracker.carry_s), first)
    tracks = {(track.label, track.track_id) for document in (first, second) for track in document.tracks}
    assert dict(Counter(label for label, _ in tracks)) == clip.unique()
    crossings = [c.direction for document in (first, second) for track in document.tracks for c in track.crossings]
    assert {"in": crossings.count("in"), "out": crossings.count("out")} == clip.crossing_counts()
    assert any(track.continued for track in second.tracks)


def test_tracking_figures(detected: Detected) -> None:
    """MOTA and IDF1 of both trackers on the clip, and the tracker's cost per frame against the forward pass."""
    clip = detected.clip
    frames = detected.frames()
    index = {frame.image_key: i for i, frame in enumerate(frames)}
    lines = [
        f"tracking on the synthetic gate clip ({clip.frames} frames, {clip.width}x{clip.height}, {clip.fps:g} fps); "
        f"detector forward pass {1000 * detected.forward_s / clip.frames:.1f} ms/frame "
        f"({clip.frames / detected.forward_s:.1f} frames/s)"
    ]
    for algorithm in ("ocsort", "bytetrack"):
        config = detected.config(algorithm)
        started = time.perf_counter()
        document = _track(frames, config)
        spent = time.perf_counter() - started
        predicted = [
            (index[seen.image_key], track.track_id, seen.box.x, seen.box.y, seen.box.w, seen.box.h)
            for track in document.tracks
            for seen in track.observations
        ]
        scores = tracking_scores(clip, predicted)
        assert 0 <= scores["idf1"] <= 1
        lines.append(
            f"  {algorithm:9} MOTA {scores['mota']:.3f}  IDF1 {scores['idf1']:.3f}  ID switches "
            f"{scores['id_switches']:.0f}  unique {document.counts.unique_objects} (truth {clip.unique()})  "
            f"crossings {document.counts.crossings['gate'].model_dump(by_alias=True)} "
            f"(truth {clip.crossing_counts()})  tracker {1000 * spent / clip.frames:.2f} ms/frame = "
            f"{spent / detected.forward_s:.1%} of the forward pass"
        )
    FIGURES.extend(lines)
