from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from imgassets.core.records import HourRollup, ImageResult, Manifest, RejectedImage, Rejection, Shard, Summary
from imgassets_tests import helpers

T0 = datetime(2026, 11, 25, 4, tzinfo=UTC)
PART = "2026-11-25-04:00"


def _result(key: str, counts: dict[str, int], at: datetime) -> ImageResult:
    return ImageResult(
        image_key=key,
        detection_key=f"d/{key}",
        width=10,
        height=10,
        counts=counts,
        objects=sum(counts.values()),
        processed_at=at,
    )


def _shard(run: str, at: datetime, *results: ImageResult) -> Shard:
    return Shard(partition=PART, run_id=run, created_at=at, images=list(results))


def test_merge_counts_each_image_once_latest_result_wins() -> None:
    first = _shard("r1", T0, _result("a", {"dog": 1}, T0), _result("b", {"person": 2}, T0))
    replay = _shard("r2", T0 + timedelta(minutes=1), _result("a", {"dog": 2, "cat": 1}, T0 + timedelta(minutes=1)))
    summary = helpers.merged_summary(PART, T0, [replay, first], [])
    assert summary.image_count == 2
    assert summary.class_counts == {"dog": 2, "person": 2, "cat": 1}
    assert summary.images_with_class == {"dog": 1, "person": 1, "cat": 1}
    assert summary.total_objects == 5
    assert summary.images_without_objects == 0
    assert summary.runs == ["r1", "r2"]


def test_images_without_objects_are_counted() -> None:
    shard = _shard("r1", T0, _result("a", {}, T0), _result("b", {"dog": 1}, T0), _result("c", {}, T0))
    assert helpers.merged_summary(PART, T0, [shard], []).images_without_objects == 2


def test_rejections_count_unless_the_image_was_later_detected() -> None:
    manifest = Manifest(
        partition=PART,
        run_id="r1",
        mode="batch",
        created_at=T0,
        accepted=[],
        rejected=[
            Rejection(image_key=k, reason="truncated", partition=PART, run_id="r1", rejected_at=T0) for k in ("a", "z")
        ],
    )
    summary = helpers.merged_summary(PART, T0, [_shard("r2", T0, _result("a", {}, T0))], [manifest])
    assert summary.rejected_count == 1 and summary.rejected[0].image_key == "z"
    assert summary.image_count == 1 and summary.total_objects == 0


_KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
_COUNTS = st.dictionaries(st.sampled_from(["dog", "cat", "person"]), st.integers(1, 3), max_size=2)


@st.composite
def _hour(draw, fresh: bool = False) -> tuple[list[Shard], list[Manifest]]:
    """Runs of one hour: each a shard (results, rejections) and a manifest (rejections), at distinct times.
    `fresh`: every run's images are its own (new Kafka messages), as sensor runs that are not re-queued have."""
    runs = draw(st.integers(1, 6))
    minutes = draw(st.lists(st.integers(0, 59), min_size=runs, max_size=runs, unique=True))
    shards, manifests = [], []
    for index, minute in enumerate(minutes):
        run, at = f"r{index}", T0 + timedelta(minutes=minute)

        def key(drawn: str, run: str = run) -> str:
            return f"{run}-{drawn}" if fresh else drawn

        results = [_result(key(k), draw(_COUNTS), at) for k in draw(st.lists(_KEYS, unique=True, max_size=4))]
        failed = [RejectedImage(image_key=key(k), reason=f"{run} failed") for k in draw(st.lists(_KEYS, max_size=2))]
        shards.append(Shard(partition=PART, run_id=run, created_at=at, images=results, rejected=failed))
        rejected = [
            Rejection(image_key=key(k), reason=f"{run} refused", partition=PART, run_id=run, rejected_at=at)
            for k in draw(st.lists(_KEYS, unique=True, max_size=2))
        ]
        manifests.append(
            Manifest(partition=PART, run_id=run, mode="batch", created_at=at, accepted=[], rejected=rejected)
        )
    return shards, manifests


@given(hour=_hour(fresh=True), data=st.data())
def test_folding_runs_one_by_one_in_any_order_gives_the_whole_hour_s_roll_up(hour, data) -> None:
    """Sensor runs fold their own shard and manifest one after another, in any order, a retried step folding its
    run again: the result is the roll-up of the whole hour at once."""
    shards, manifests = hour
    whole = HourRollup.rebuilt(PART, shards, manifests)
    rollup = HourRollup(partition=PART)
    for index in data.draw(st.permutations(range(len(shards)))):
        for _ in range(data.draw(st.integers(1, 2))):
            rollup = rollup.fold(shards[index], manifests[index])
    assert rollup == whole


@given(hour=_hour())
def test_an_hour_rebuilt_counts_each_image_once_its_latest_result_winning(hour) -> None:
    shards, manifests = hour
    summary = Summary.of(HourRollup.rebuilt(PART, shards, manifests), T0)
    # Latest result per image; an image is rejected only if no run detected it.
    latest = {}
    for shard in sorted(shards, key=lambda s: s.created_at):
        latest.update({result.image_key: result for result in shard.images})
    assert summary.image_count == len(latest)
    assert summary.total_objects == sum(result.objects for result in latest.values())
    refused = {r.image_key for m in manifests for r in m.rejected} | {r.image_key for s in shards for r in s.rejected}
    assert {r.image_key for r in summary.rejected} == refused - set(latest)
    assert summary.runs == [s.run_id for s in sorted(shards, key=lambda s: (s.created_at, s.run_id))]
    assert summary.run_count == len(shards)
