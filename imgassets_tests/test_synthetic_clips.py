"""The synthetic-clip generator: a real, readable video whose truth says what the construction says, and
tracking scores that reward the truth and punish an identity swap. No detector, no services."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import cv2
import pytest

from imgassets.devtools.synthetic_clips import Clip, make_clip, tracking_scores


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("clips"))


def test_is_a_readable_video_of_the_stated_size(clip: Clip) -> None:
    assert clip.path == clip.path.parent / "gate.mp4" and isinstance(clip.path, Path)
    capture = cv2.VideoCapture(str(clip.path))
    try:
        assert capture.isOpened()
        assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(clip.fps)
        shapes = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            shapes.append(frame.shape)
    finally:
        capture.release()
    assert len(shapes) == clip.frames
    assert set(shapes) == {(clip.height, clip.width, 3)}
    assert clip.frames / clip.fps == pytest.approx(12.0)


def test_every_object_is_in_every_frame_inside_the_picture(clip: Clip) -> None:
    per_frame = defaultdict(set)
    for box in clip.boxes:
        per_frame[box.frame_index].add(box.object_id)
        assert box.t == pytest.approx(box.frame_index / clip.fps)
        assert 0 < box.x < clip.width - box.w and 0 < box.y < clip.height - box.h
    assert set(per_frame) == set(range(clip.frames))
    assert {frozenset(ids) for ids in per_frame.values()} == {
        frozenset({"person_A", "person_B", "person_C", "truck", "dog"})
    }


def test_crossings_are_what_the_paths_do(clip: Clip) -> None:
    directions = defaultdict(list)
    for crossing in clip.crossings:
        directions[crossing.object_id].append(crossing.direction)
    # Left -> right is "in" (towards (1.0, 0.5)): C leaves the left-half zone with an "in" and comes back "out".
    assert dict(directions) == {"person_A": ["in"], "person_B": ["out"], "person_C": ["in", "out"], "truck": ["in"]}
    assert clip.crossing_counts() == {"in": 3, "out": 2}
    assert clip.line == ((0.5, 0.0), (0.5, 1.0)) and clip.in_point == (1.0, 0.5)
    assert clip.zone == ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))


def test_crossings_agree_with_the_rendered_boxes(clip: Clip) -> None:
    """Independently of the generator's geometry: the line is x = width / 2, so a crossing is the anchor's x
    passing it between frame_index - 1 and frame_index."""
    anchor_x = {(box.object_id, box.frame_index): box.x + box.w / 2 for box in clip.boxes}
    middle = clip.width / 2
    for crossing in clip.crossings:
        before, after = (
            anchor_x[crossing.object_id, crossing.frame_index - 1],
            anchor_x[crossing.object_id, crossing.frame_index],
        )
        assert (before < middle < after) if crossing.direction == "in" else (after < middle < before)
    sides = defaultdict(list)
    for box in sorted(clip.boxes, key=lambda b: b.frame_index):
        sides[box.object_id].append(box.x + box.w / 2 > middle)
    changes = sum(a != b for values in sides.values() for a, b in zip(values, values[1:], strict=False))
    assert changes == len(clip.crossings)


def test_zone_visits_and_unique_objects(clip: Clip) -> None:
    assert clip.zone_visits == {"person_A": 1, "person_B": 1, "person_C": 2, "truck": 1, "dog": 1}
    assert clip.unique() == {"dog": 1, "person": 3, "truck": 1}


def _truth_as_predictions(clip: Clip) -> list[tuple[int, str, int, int, int, int]]:
    return [(b.frame_index, f"track-{b.object_id}", b.x, b.y, b.w, b.h) for b in clip.boxes]


def test_the_truth_scores_perfectly(clip: Clip) -> None:
    scores = tracking_scores(clip, _truth_as_predictions(clip))
    assert scores == {"mota": 1.0, "idf1": 1.0, "id_switches": 0.0, "precision": 1.0, "recall": 1.0}


def test_an_identity_swap_costs_idf1(clip: Clip) -> None:
    """A and B swap track ids where they pass each other, as a tracker that confuses them would."""
    swap = {"track-person_A": "track-person_B", "track-person_B": "track-person_A"}
    swapped = [
        (frame, swap.get(track, track) if frame >= 48 else track, x, y, w, h)
        for frame, track, x, y, w, h in _truth_as_predictions(clip)
    ]
    scores = tracking_scores(clip, swapped)
    assert scores["idf1"] < 0.95
    assert scores["id_switches"] == 2.0
    assert scores["mota"] < 1.0 and scores["recall"] == 1.0 and scores["precision"] == 1.0


def test_missing_boxes_cost_recall_not_precision(clip: Clip) -> None:
    predicted = [p for p in _truth_as_predictions(clip) if not (p[1] == "track-person_B" and 44 <= p[0] < 54)]
    scores = tracking_scores(clip, predicted)
    assert scores["precision"] == 1.0 and scores["recall"] == pytest.approx(1 - 10 / len(clip.boxes))
    assert scores["id_switches"] == 0.0


def test_predictions_outside_the_clip_are_refused(clip: Clip) -> None:
    with pytest.raises(ValueError, match="outside"):
        tracking_scores(clip, [(clip.frames, "t", 0, 0, 10, 10)])
