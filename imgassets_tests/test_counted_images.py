"""The roll-up's record of its latest counted images (core/counted_images.py): what a run finds there, what it
keeps as the hour grows past the window, and that a rebuild from the hour's runs holds what folding them one by
one held."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgassets.core import counted_images

#: Runs of images: each run a set of image numbers (an image may come back in a later run).
runs_strategy = st.lists(st.sets(st.integers(0, 400), min_size=1, max_size=30), min_size=1, max_size=25)


def _keys(numbers: set[int]) -> list[str]:
    return [f"raw/2026/01/01/05/image-{number}.jpg" for number in sorted(numbers)]


def _expected(runs: list[set[int]], window: int) -> dict[int, int]:
    """Image → the run (1-based) that holds it, for the latest whole runs within `window` images."""
    holder: dict[int, int] = {}
    for ordinal, images in enumerate(runs, 1):
        holder.update(dict.fromkeys(images, ordinal))
    newest = len(runs)
    kept_runs, held = 0, 0
    for ordinal in range(newest, 0, -1):
        size = sum(1 for run in holder.values() if run == ordinal)
        if kept_runs and held + size > window:
            break
        kept_runs, held = kept_runs + 1, held + size
    return {image: run for image, run in holder.items() if run > newest - kept_runs}


@settings(max_examples=60, deadline=None)
@given(runs=runs_strategy, window=st.integers(1, 120))
def test_a_rebuilt_record_holds_the_latest_runs_within_the_window(runs: list[set[int]], window: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counted_images, "WINDOW", window)
        record = counted_images.counted(
            (ordinal, counted_images.hashes(_keys(images))) for ordinal, images in enumerate(runs, 1)
        )
    expected = _expected(runs, window)
    by_hash = {int(counted_images.hashes(_keys({image}))[0]): run for image, run in expected.items()}
    assert dict(zip(record["hash"].tolist(), record["run"].tolist(), strict=True)) == by_hash
    assert list(record["hash"]) == sorted(record["hash"])


@settings(max_examples=60, deadline=None)
@given(runs=runs_strategy, window=st.integers(1, 120))
def test_folding_runs_one_by_one_sees_every_image_the_window_holds(runs: list[set[int]], window: int) -> None:
    """A run whose images are all new is added; one bringing an image the record holds is seen (the roll-up then
    rebuilds, and the record with it): the record always equals the one rebuilt from the runs so far."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counted_images, "WINDOW", window)
        record = counted_images.counted([])
        for ordinal, images in enumerate(runs, 1):
            new = counted_images.hashes(_keys(images))
            held = _expected(runs[: ordinal - 1], window) if ordinal > 1 else {}
            assert counted_images.any_counted(record, new) == bool(images & held.keys())
            if counted_images.any_counted(record, new):
                record = counted_images.counted(
                    (number, counted_images.hashes(_keys(found))) for number, found in enumerate(runs[:ordinal], 1)
                )
            else:
                record = counted_images.added(record, new, ordinal)
            rebuilt = counted_images.counted(
                (number, counted_images.hashes(_keys(found))) for number, found in enumerate(runs[:ordinal], 1)
            )
            assert np.array_equal(record, rebuilt)


def test_the_record_stays_the_same_size_as_the_hour_grows() -> None:
    """200 runs of 100 images: past the window the record holds whole latest runs and no more."""
    record = counted_images.counted([])
    sizes = []
    for ordinal in range(1, 201):
        images = {ordinal * 1000 + index for index in range(100)}
        record = counted_images.added(record, counted_images.hashes(_keys(images)), ordinal)
        sizes.append(len(record))
    assert max(sizes) <= counted_images.WINDOW
    assert sizes[-1] == counted_images.WINDOW // 100 * 100
    assert set(record["run"].tolist()) == set(range(201 - counted_images.WINDOW // 100, 201))
