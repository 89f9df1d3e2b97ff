from datetime import UTC, datetime, timedelta

from imgassets.records import ImageResult, Manifest, Rejection, Shard, Summary

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
    summary = Summary.merge(PART, T0, [replay, first], [])
    assert summary.image_count == 2
    assert summary.class_counts == {"dog": 2, "person": 2, "cat": 1}
    assert summary.images_with_class == {"dog": 1, "person": 1, "cat": 1}
    assert summary.total_objects == 5
    assert summary.images_without_objects == 0
    assert summary.runs == ["r1", "r2"]


def test_images_without_objects_are_counted() -> None:
    shard = _shard("r1", T0, _result("a", {}, T0), _result("b", {"dog": 1}, T0), _result("c", {}, T0))
    assert Summary.merge(PART, T0, [shard], []).images_without_objects == 2


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
    summary = Summary.merge(PART, T0, [_shard("r2", T0, _result("a", {}, T0))], [manifest])
    assert summary.rejected_count == 1 and summary.rejected[0].image_key == "z"
    assert summary.image_count == 1 and summary.total_objects == 0
