"""The search across all time that the viewer's search page, its downloads and its hour page run: images matching
class conditions ("at least 3 person AND at least 1 bus"), a minimum confidence and a source, over a range of
upload hours. One place builds the SQL (over `imgassets.reading.query`'s views), so the page, the downloads and the
tests agree on what matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import duckdb
import pyarrow as pa
from pydantic import BaseModel, Field

from imgassets.reading.query import Catalog, HourRange, QueryError, translated_errors

_CONDITION = re.compile(r"(?P<label>[A-Za-z][A-Za-z0-9 _-]{0,63}):(?P<count>\d{1,4})", re.ASCII)
#: Ranges longer than this are charted per day instead of per hour.
DAILY_BEYOND = timedelta(hours=72)
MAX_PAGE_SIZE = 200
#: The columns of an image row as the viewer gets them (what the grid and its links need).
IMAGE_COLUMNS = (
    "image_key, detection_key, source, upload_hour, uploaded_at, processed_at, width, height, objects, counts"
)


def check_page(page: int, size: int) -> None:
    """A page of results: numbered from 1, at most `MAX_PAGE_SIZE` images."""
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise QueryError(f"page must be >= 1 and page_size between 1 and {MAX_PAGE_SIZE}")


@dataclass(frozen=True)
class Condition:
    """At least `count` detections of class `label` (count 0 is refused: it would match everything)."""

    label: str
    count: int

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _CONDITION.fullmatch(text.strip())
        if match is None or int(match["count"]) < 1:
            raise QueryError(f"a class condition is label:count with count >= 1, e.g. person:3, not {text!r}")
        return cls(match["label"], int(match["count"]))

    def __str__(self) -> str:
        return f"{self.label}:{self.count}"


@dataclass(frozen=True)
class Search:
    hours: HourRange
    conditions: tuple[Condition, ...] = ()
    min_confidence: float = 0.0
    source: str | None = None
    page: int = 1
    page_size: int = 48

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise QueryError("min confidence must be between 0 and 1")
        check_page(self.page, self.page_size)

    @property
    def bucket(self) -> Literal["hour", "day"]:
        return "day" if self.hours.end - self.hours.start > DAILY_BEYOND else "hour"

    @property
    def table(self) -> str:
        """The table the matching reads: the detections when a condition is on them, else the images."""
        return "detections" if self.conditions or self.min_confidence > 0 else "images"

    def matches_sql(self) -> tuple[str, list[object]]:
        """SQL of the matching images (key, upload hour and time), and its parameters. With class conditions:
        images with at least that many detections of each class at the minimum confidence. Without: every image
        of the range, or, with a minimum confidence, every image with a detection that confident."""
        source_filter = " AND source = ?" if self.source else ""
        source_parameters: list[object] = [self.source] if self.source else []
        if self.table == "images":
            sql = f"SELECT image_key, upload_hour, uploaded_at FROM images WHERE true{source_filter}"
            return sql, source_parameters
        having = " AND ".join("count(*) FILTER (WHERE label = ?) >= ?" for _ in self.conditions) or "true"
        labels = ", ".join("?" for _ in self.conditions)
        label_filter = f" AND label IN ({labels})" if self.conditions else ""
        sql = (
            "SELECT image_key, any_value(upload_hour) AS upload_hour, any_value(uploaded_at) AS uploaded_at "
            f"FROM detections WHERE confidence >= ?{source_filter}{label_filter} GROUP BY image_key HAVING {having}"
        )
        parameters: list[object] = [self.min_confidence, *source_parameters]
        parameters += [c.label for c in self.conditions]
        for condition in self.conditions:
            parameters += [condition.label, condition.count]
        return sql, parameters


class ImageRow(BaseModel):
    """One image as the query endpoint lists it (`IMAGE_COLUMNS`): what the viewer's grids show."""

    image_key: str
    detection_key: str
    source: str
    #: The upload hour (the image's partition).
    upload_hour: datetime
    uploaded_at: datetime | None
    processed_at: datetime
    width: int
    height: int
    objects: int
    counts: dict[str, int]


class HistogramBar(BaseModel):
    #: Start of the hour or day.
    bucket: datetime
    matches: int


class SearchPage(BaseModel):
    """The query endpoint's answer to GET /search."""

    #: The range searched; `to` is exclusive.
    from_: datetime = Field(alias="from")
    to: datetime
    total: int
    page: int
    page_size: int
    #: The histogram's bucket: per hour up to 72 hours, per day beyond.
    bucket: Literal["hour", "day"]
    #: Only buckets with matches, oldest first.
    histogram: list[HistogramBar]
    #: Newest upload first.
    images: list[ImageRow]


class HourPage(BaseModel):
    """The query endpoint's answer to GET /hours/{partition}."""

    partition: str
    total: int
    page: int
    page_size: int
    #: Every source of the hour (unfiltered), sorted.
    sources: list[str]
    #: Newest processed first.
    images: list[ImageRow]


@dataclass(frozen=True)
class SearchResult:
    total: int
    images: list[ImageRow]
    histogram: list[HistogramBar]


def run(catalog: Catalog, search: Search) -> SearchResult:
    """The page of matching images (newest upload first), their total and the matches per hour or day."""
    with translated_errors():
        return _run(catalog, search)


def _run(catalog: Catalog, search: Search) -> SearchResult:
    """Matching reads one table of the range (the detections, or the images without conditions); the page's
    rows come from the images of the page's hours only."""
    cursor = catalog.cursor(search.hours, tables=(search.table,))
    try:
        matches, parameters = search.matches_sql()
        cursor.execute(f"CREATE TEMP TABLE matched AS {matches}", parameters)
        counted = cursor.execute("SELECT count(*) FROM matched").fetchone()
        histogram = cursor.execute(
            f"SELECT date_trunc('{search.bucket}', upload_hour) AS bucket, count(*) AS matches FROM matched "
            "GROUP BY 1 ORDER BY 1"
        ).fetch_arrow_table()
        cursor.execute(
            "CREATE TEMP TABLE page AS SELECT image_key, upload_hour FROM matched "
            "ORDER BY uploaded_at DESC NULLS LAST, image_key LIMIT ? OFFSET ?",
            [search.page_size, (search.page - 1) * search.page_size],
        )
        page_hours = [row[0] for row in cursor.execute("SELECT DISTINCT upload_hour FROM page").fetchall()]
        if search.table != "images":
            catalog.expose(cursor, "images", catalog.listed("images", page_hours))
        rows = cursor.execute(
            f"SELECT {IMAGE_COLUMNS} FROM images SEMI JOIN page USING (image_key) "
            "ORDER BY uploaded_at DESC NULLS LAST, image_key"
        ).fetch_arrow_table()
        return SearchResult(
            total=int(counted[0]) if counted else 0,
            images=[_image(row) for row in rows.to_pylist()],
            histogram=[HistogramBar.model_validate(bar) for bar in histogram.to_pylist()],
        )
    finally:
        cursor.close()


def export(catalog: Catalog, search: Search) -> pa.Table:
    """Every matching image (no paging) with its counts and detector configuration: the downloads' rows."""
    matches, parameters = search.matches_sql()
    with translated_errors():
        cursor = catalog.cursor(search.hours, tables=sorted({search.table, "images"}))
        try:
            return cursor.execute(
                f"WITH matches AS ({matches}) SELECT images.* FROM images SEMI JOIN matches USING (image_key) "
                "ORDER BY uploaded_at DESC NULLS LAST, image_key",
                parameters,
            ).fetch_arrow_table()
        finally:
            cursor.close()


def hour_page(
    catalog: Catalog, hours: HourRange, label: str | None, min_count: int, source: str | None, page: int, size: int
) -> tuple[int, list[ImageRow], list[str]]:
    """One hour's images, newest processed first, filtered in the query (class with at least `min_count`
    detections, source): the total, one page, and the hour's sources."""
    filters, parameters = ["true"], []
    if label:
        filters.append("coalesce(counts[?], 0) >= ?")
        parameters += [label, max(1, min_count)]
    if source:
        filters.append("source = ?")
        parameters.append(source)
    with translated_errors():
        return _hour_page(catalog, hours, " AND ".join(filters), parameters, page, size)


def _hour_page(
    catalog: Catalog, hours: HourRange, where: str, parameters: list[object], page: int, size: int
) -> tuple[int, list[ImageRow], list[str]]:
    cursor = catalog.cursor(hours, tables=("images",))
    try:
        total, images = _page(
            cursor,
            f"SELECT {IMAGE_COLUMNS} FROM images WHERE {where}",
            parameters,
            "processed_at DESC, image_key DESC",
            page,
            size,
        )
        sources = [row[0] for row in cursor.execute("SELECT DISTINCT source FROM images ORDER BY 1").fetchall()]
        return total, images, sources
    finally:
        cursor.close()


def _page(
    cursor: duckdb.DuckDBPyConnection, select: str, parameters: list[object], order: str, page: int, size: int
) -> tuple[int, list[ImageRow]]:
    """The total rows of `select` and its page `page` of `size` rows in `order`, JSON-ready (counts as objects)."""
    rows = (
        cursor.execute(
            f"SELECT *, count(*) OVER () AS total FROM ({select}) ORDER BY {order} LIMIT ? OFFSET ?",
            [*parameters, size, (page - 1) * size],
        )
        .fetch_arrow_table()
        .to_pylist()
    )
    if rows:
        total = int(rows[0]["total"])
    else:
        counted = cursor.execute(f"SELECT count(*) FROM ({select})", parameters).fetchone()
        total = int(counted[0]) if counted else 0
    return total, [_image(row) for row in rows]


def _image(row: dict[str, Any]) -> ImageRow:
    """A result row (the counts map as DuckDB returns it: key/value pairs) as an `ImageRow`."""
    return ImageRow.model_validate(
        {name: row[name] for name in ImageRow.model_fields} | {"counts": dict(row["counts"])}
    )
