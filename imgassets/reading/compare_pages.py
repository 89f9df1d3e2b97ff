"""Reading detector version comparisons for the viewer's compare page (through the query endpoint): a range of
hours of one version against the active one, and one image with both versions' boxes.

The answers are pydantic models in the contract, so the viewer's types for them are generated like the records'.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from imgassets.core import layout
from imgassets.core.records import (
    Agreement,
    ClassAgreement,
    Comparison,
    Detection,
    DetectionRecord,
    ImageDisagreement,
    TrackSummary,
)
from imgassets.core.storage import ObjectStore
from imgassets.detector.versions import Versions
from imgassets.reading.query import HourRange, QueryError, TablesUnavailable
from imgassets.reading.search import check_page

#: How the disagreement list is ordered: by difference (largest first), by boxes only the active version has,
#: by boxes only the compared version has (most first), or by image key.
SortOrder = Literal["difference", "only_a", "only_b", "image"]
SORT_ORDERS: tuple[SortOrder, ...] = ("difference", "only_a", "only_b", "image")
#: What a range's totals add up from its hours (`Agreement.counted` derives precision and recall).
_SUMMED = ("images", "objects_a", "objects_b", "matched")


class VersionInfo(BaseModel):
    name: str
    detector: str
    active: bool


class VersionList(BaseModel):
    """The query endpoint's answer to GET /versions: every detector version, and the active one's name."""

    active: str
    versions: list[VersionInfo]


def version_list(versions: Versions) -> VersionList:
    return VersionList(
        active=versions.active_name,
        versions=[
            VersionInfo(name=v.name, detector=v.describe(), active=v.name == versions.active_name)
            for v in sorted(versions.versions.values(), key=lambda v: v.name)
        ],
    )


class CompareHour(Agreement):
    """One hour of the timelines: both versions' objects, and their agreement."""

    partition: str
    disagreements: int


class ComparePage(Agreement):
    """The query endpoint's answer to GET /versions/{version}/compare."""

    version_a: str
    version_b: str
    detector_a: str
    detector_b: str
    #: Every version, for the page's chooser.
    versions: list[VersionInfo]
    from_: datetime = Field(alias="from")
    to: datetime
    #: The hours compared, oldest first (hours without a comparison are left out).
    hours: list[CompareHour]
    classes: list[ClassAgreement]
    sort: SortOrder
    #: Comparisons in the range that could not be read (their keys): left out of everything above.
    unreadable: list[str] = []
    #: Distinct objects each version's tracks found per class, summed over the hours both have tracks of.
    unique_a: dict[str, int] = {}
    unique_b: dict[str, int] = {}
    total_disagreements: int
    page: int
    page_size: int
    disagreements: list[ImageDisagreement]


class ImageComparison(BaseModel):
    """The query endpoint's answer to GET /versions/{version}/images/{key}: both versions' boxes on one image
    (a version that has no record of it has None)."""

    image_key: str
    version_a: str
    version_b: str
    detector_a: str
    detector_b: str
    width: int
    height: int
    detections_a: list[Detection] | None
    detections_b: list[Detection] | None


def _compared(versions: Versions, version: str) -> str:
    """The version's name, checked: a version other than the active one (the one comparisons are made against)."""
    try:
        chosen = versions.get(version)
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    if chosen.name == versions.active_name:
        raise QueryError(f"{version!r} is the active version; compare another version with it")
    return chosen.name


def compare_page(
    store: ObjectStore, versions: Versions, version: str, hours: HourRange, sort: str, page: int, page_size: int
) -> ComparePage:
    """The version's comparisons over the range (one GET per hour, in parallel), summed, with one page of the
    disagreements in `sort` order."""
    name = _compared(versions, version)
    if sort not in SORT_ORDERS:
        raise QueryError(f"sort is one of {', '.join(SORT_ORDERS)}, not {sort!r}")
    check_page(page, page_size)
    keys = [layout.comparison_key(name, layout.partition_key(hour)) for hour in hours.hours()]
    with ThreadPoolExecutor(max_workers=16) as pool:
        fetched = list(zip(keys, pool.map(store.get_optional, keys), strict=True))
    stored = [(key, found) for key, found in fetched if found is not None]
    comparisons, unreadable = [], []
    for key, found in stored:
        try:
            comparisons.append(Comparison.model_validate_json(found.data))
        except ValidationError:  # one hour's comparison costs only itself: named, left out of the sums
            unreadable.append(key)
    comparisons.sort(key=lambda c: c.partition)
    classes: dict[str, Counter[str]] = {}
    for comparison in comparisons:
        for agreement in comparison.classes:
            classes.setdefault(agreement.label, Counter()).update(agreement.model_dump(exclude={"label"}))
    disagreements = [d for c in comparisons for d in c.disagreements]
    order = {
        "difference": lambda d: (-d.difference, d.image_key),
        "only_a": lambda d: (-d.only_a, -d.difference, d.image_key),
        "only_b": lambda d: (-d.only_b, -d.difference, d.image_key),
        "image": lambda d: (d.image_key,),
    }[sort]
    disagreements.sort(key=order)
    unique_a, unique_b = _unique_objects(store, name, hours)
    return ComparePage(
        **Agreement.counted(*(sum(getattr(c, name) for c in comparisons) for name in _SUMMED)),
        version_a=versions.active_name,
        version_b=name,
        detector_a=versions.active.describe(),
        detector_b=versions.get(name).describe(),
        versions=version_list(versions).versions,
        **{"from": hours.start},
        to=hours.end,
        hours=[
            CompareHour(
                **c.model_dump(include=set(Agreement.model_fields)),
                partition=c.partition,
                disagreements=len(c.disagreements),
            )
            for c in comparisons
        ],
        classes=[ClassAgreement(label=label, **counts) for label, counts in sorted(classes.items())],
        sort=sort,
        unreadable=unreadable,
        unique_a=unique_a,
        unique_b=unique_b,
        total_disagreements=len(disagreements),
        page=page,
        page_size=page_size,
        disagreements=disagreements[(page - 1) * page_size : page * page_size],
    )


def _unique_objects(store: ObjectStore, version: str, hours: HourRange) -> tuple[dict[str, int], dict[str, int]]:
    """Both versions' distinct objects per class, over the hours that have track summaries of both (a version
    backfill not yet done for an hour leaves the hour out of both)."""
    partitions = [layout.partition_key(hour) for hour in hours.hours()]
    keys = [(layout.track_summary_key(p), layout.track_summary_key(p, version)) for p in partitions]
    with ThreadPoolExecutor(max_workers=16) as pool:
        pairs = list(pool.map(lambda pair: (store.get_optional(pair[0]), store.get_optional(pair[1])), keys))
    totals: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    for stored_a, stored_b in pairs:
        if stored_a is None or stored_b is None:
            continue
        try:
            a, b = (TrackSummary.model_validate_json(found.data) for found in (stored_a, stored_b))
        except ValidationError:
            continue
        totals[0].update(a.unique_objects())
        totals[1].update(b.unique_objects())
    return dict(sorted(totals[0].items())), dict(sorted(totals[1].items()))


def image_comparison(store: ObjectStore, versions: Versions, version: str, image_key: str) -> ImageComparison:
    """Both versions' records of one image."""
    name = _compared(versions, version)
    try:
        parsed = layout.parse_image_key(image_key)
    except layout.InvalidKey as exc:
        raise QueryError(str(exc)) from None
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(store.get_optional, [parsed.detection_key, parsed.version_detection_key(name)]))
    try:
        records = [DetectionRecord.model_validate_json(s.data) if s is not None else None for s in found]
    except ValidationError as exc:
        raise TablesUnavailable(f"a detection record of {image_key} cannot be read: {exc}") from None
    sized = next((r for r in records if r is not None), None)
    if sized is None:
        raise QueryError(f"neither {versions.active_name} nor {name} has a record of {image_key}")
    a, b = records
    return ImageComparison(
        image_key=image_key,
        version_a=versions.active_name,
        version_b=name,
        detector_a=versions.active.describe(),
        detector_b=versions.get(name).describe(),
        width=sized.image_width,
        height=sized.image_height,
        detections_a=a.detections if a is not None else None,
        detections_b=b.detections if b is not None else None,
    )
