"""Reading a source's tracks for the viewer's source page (through the query endpoint): its counts hour by hour,
the range's totals, a strip of its latest tracked frames with their track ids, and its lines and zones.

The answers are pydantic models in the contract, so the viewer's types for them are generated like the records'.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pydantic import BaseModel, Field, ValidationError

from imgassets.core import layout
from imgassets.core.records import (
    Box,
    LineCount,
    RelativeLine,
    RelativePoint,
    SourceTracks,
    TrackCounts,
    TrackSummary,
    ZoneCount,
)
from imgassets.core.storage import ObjectStore
from imgassets.reading.query import Catalog, HourRange, QueryError

#: Frames in the strip: the latest hour's last frames with a track.
STRIP_FRAMES = 12
#: Events listed: the range's latest.
EVENTS = 50


class SourceHour(TrackCounts):
    """One hour of the timeline."""

    partition: str


class StripBox(BaseModel):
    track_id: str
    label: str
    box: Box


class StripFrame(BaseModel):
    image_key: str
    captured_at: datetime
    width: int
    height: int
    boxes: list[StripBox]


class SourceEvent(BaseModel):
    """A line crossing or a zone visit, as the source page lists it."""

    happened_at: datetime
    track_id: str
    label: str
    kind: str
    name: str
    direction: str | None
    dwell_s: float | None
    image_key: str


class SourcePage(BaseModel):
    """The query endpoint's answer to GET /sources/{name}."""

    source: str
    version: str
    from_: datetime = Field(alias="from")
    to: datetime
    #: Hours with tracks of the source, oldest first.
    hours: list[SourceHour]
    #: Distinct tracks per class over the range (a track that goes on across hours counts once).
    unique_objects: dict[str, int]
    crossings: dict[str, LineCount]
    zones: dict[str, ZoneCount]
    #: The latest hour's lines and zones (image-relative), to draw on its frames.
    lines: dict[str, RelativeLine]
    zone_shapes: dict[str, list[RelativePoint]]
    latest_partition: str | None
    strip: list[StripFrame]
    #: The range's latest events (at most `EVENTS`), newest first, and how many it has in all.
    events: list[SourceEvent]
    event_count: int
    #: Hours whose track summary could not be read (their keys): left out of everything above.
    unreadable: list[str] = []


def _summaries(store: ObjectStore, hours: HourRange) -> tuple[list[TrackSummary], list[str]]:
    keys = [layout.track_summary_key(layout.partition_key(hour)) for hour in hours.hours()]
    with ThreadPoolExecutor(max_workers=16) as pool:
        fetched = list(zip(keys, pool.map(store.get_optional, keys), strict=True))
    summaries, unreadable = [], []
    for key, found in fetched:
        if found is None:
            continue
        try:
            summaries.append(TrackSummary.model_validate_json(found.data))
        except ValidationError:  # one hour costs only itself: named, left out
            unreadable.append(key)
    return sorted(summaries, key=lambda s: s.partition), unreadable


def strip(document: SourceTracks, frames: int = STRIP_FRAMES) -> list[StripFrame]:
    """The document's last `frames` frames with a track, each with every track's box in it."""
    found: dict[str, StripFrame] = {}
    for track in document.tracks:
        for seen in track.observations:
            frame = found.setdefault(
                seen.image_key,
                StripFrame(
                    image_key=seen.image_key,
                    captured_at=seen.captured_at,
                    width=seen.width,
                    height=seen.height,
                    boxes=[],
                ),
            )
            frame.boxes.append(StripBox(track_id=track.track_id, label=track.label, box=seen.box))
    latest = sorted(found.values(), key=lambda f: (f.captured_at, f.image_key))[-frames:]
    for frame in latest:
        frame.boxes.sort(key=lambda b: b.track_id)
    return latest


def source_page(store: ObjectStore, catalog: Catalog, source: str, hours: HourRange) -> SourcePage:
    """The source's track counts over the range (one GET per hour, in parallel), its distinct objects and latest
    events (a query each over the range's `tracks` and `events` tables), and the latest hour's frames."""
    if not layout.SOURCE_NAME.fullmatch(source):
        raise QueryError(f"not a source name: {source!r}")
    summaries, unreadable = _summaries(store, hours)
    timeline = [
        SourceHour(partition=summary.partition, **summary.sources[source].model_dump(by_alias=True))
        for summary in summaries
        if source in summary.sources
    ]
    crossings: dict[str, Counter[str]] = {}
    zones: dict[str, ZoneCount] = {}
    for hour in timeline:
        for name, count in hour.crossings.items():
            crossings.setdefault(name, Counter()).update({"in": count.in_, "out": count.out})
        for name, zone in hour.zones.items():
            held = zones.get(name, ZoneCount())
            zones[name] = ZoneCount(visits=held.visits + zone.visits, dwell_s=round(held.dwell_s + zone.dwell_s, 3))
    distinct = catalog.query(
        "SELECT label, count(DISTINCT track_id) AS objects FROM tracks WHERE source = ? GROUP BY label ORDER BY label",
        hours,
        [source],
    ).to_pylist()
    events = catalog.query(
        "SELECT happened_at, track_id, label, kind, name, direction, dwell_s, image_key, count(*) OVER () AS total "
        "FROM events WHERE source = ? ORDER BY happened_at DESC, track_id, kind, name LIMIT ?",
        hours,
        [source, EVENTS],
    ).to_pylist()
    latest = None
    if timeline:
        stored = store.get_optional(layout.tracks_key(timeline[-1].partition, source))
        latest = SourceTracks.model_validate_json(stored.data) if stored is not None else None
    version = summaries[-1].version if summaries else ""
    return SourcePage(
        source=source,
        version=version,
        **{"from": hours.start},
        to=hours.end,
        hours=timeline,
        unique_objects={row["label"]: row["objects"] for row in distinct},
        crossings={name: LineCount(in_=c["in"], out=c["out"]) for name, c in sorted(crossings.items())},
        zones=dict(sorted(zones.items())),
        lines=latest.lines if latest else {},
        zone_shapes=latest.zones if latest else {},
        latest_partition=latest.partition if latest else None,
        strip=strip(latest) if latest else [],
        events=[SourceEvent(**{k: v for k, v in row.items() if k != "total"}) for row in events],
        event_count=events[0]["total"] if events else 0,
        unreadable=unreadable,
    )
