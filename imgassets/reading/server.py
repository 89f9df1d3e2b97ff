"""The query endpoint the viewer's server calls for its search page, its downloads and its hour page: a small
HTTP API over `imgassets.reading.search`, started with the stack (`imgassets serve-queries`). It holds one DuckDB
connection, so Parquet metadata stays cached between requests (warm queries).

    GET /health
    GET /search?last=7d|from=…&to=…&class=person:3&class=bus:1&min_confidence=0.5&source=cam-1&page=1&page_size=48
    GET /search.csv, /search.parquet      (same parameters, no paging): every matching image
    GET /hours/{partition}?class=dog&min=2&source=cam-1&page=1&page_size=48
    GET /versions
    GET /versions/{version}/compare?last=7d|from=…&to=…&sort=difference&page=1&page_size=48
    GET /versions/{version}/images/{image key}
    GET /sources/{name}?last=24h|from=…&to=…      a source's track counts, distinct objects and latest frames

Errors in the request answer 400 with {"error": …}; S3 down or a table it cannot read answers 503.

Only the viewer's server may call it: every request but /health needs `Authorization: Bearer <token>`
(IMGASSETS_QUERY_TOKEN, 401 without it), and a Host header not in IMGASSETS_QUERY_ALLOWED_HOSTS (or the host of
IMGASSETS_QUERY_URL) is refused with 400, so a web page cannot reach it through DNS rebinding. Every answer carries
`X-Content-Type-Options: nosniff`. docs/security.md.
"""

from __future__ import annotations

import hmac
import io
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imgassets.core import layout
from imgassets.core.settings import ENV_PREFIX, Settings, SettingsError
from imgassets.core.storage import ObjectStore
from imgassets.detector.versions import DetectorConfig, VersionsError
from imgassets.reading import compare_pages, search, source_pages
from imgassets.reading.query import Catalog, HourRange, QueryError, TablesUnavailable

#: Answered without a token: the health checks of the stack and of compose.
OPEN_PATHS = frozenset({"/health"})


class _Nosniff:
    """Every answer, refusals included, says `X-Content-Type-Options: nosniff`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, sending if scope["type"] == "http" else send)


class _BearerToken:
    """401 for a request (other than OPEN_PATHS) without `Authorization: Bearer <token>`; `token` None lets every
    request through (`running`, in-process on loopback, unless asked for the token)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode() if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.expected is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("authorization", "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, self.expected):
            refusal = JSONResponse(
                {"error": "this endpoint answers only the viewer's server: the bearer token is missing or wrong"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="imgassets-query"'},
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _token(settings: Settings) -> str:
    if settings.query_token is None:
        raise SettingsError(
            f"{ENV_PREFIX}QUERY_TOKEN must be set: the query endpoint answers only callers that send it, the "
            "viewer's server (give both the same value; `imgassets stack up` makes one for the local stack)"
        )
    return settings.query_token.get_secret_value()


def _model(answer: BaseModel) -> Response:
    """An answer whose shape is in the contract (imgassets/reading/search.py; the viewer's types are generated
    from it)."""
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a whole number, not {raw!r}") from None


def _range(request: Request, default_last: str) -> HourRange:
    """The hours `from`, `to` and `last` ask for; none of them: the last `default_last`."""
    params = request.query_params
    if not any(params.get(name) for name in ("from", "to", "last")):
        return HourRange.parse(None, None, default_last)
    return HourRange.parse(params.get("from") or None, params.get("to") or None, params.get("last") or None)


def _search(request: Request, paged: bool = True) -> search.Search:
    params = request.query_params
    hours = HourRange.parse(params.get("from") or None, params.get("to") or None, params.get("last") or None)
    try:
        min_confidence = float(params.get("min_confidence") or 0)
    except ValueError:
        raise QueryError("min_confidence must be a number between 0 and 1") from None
    return search.Search(
        hours=hours,
        conditions=tuple(search.Condition.parse(c) for c in params.getlist("class") if c.strip()),
        min_confidence=min_confidence,
        source=params.get("source") or None,
        page=_int(request, "page", 1) if paged else 1,
        page_size=_int(request, "page_size", 48) if paged else 1,
    )


def app(settings: Settings, require_token: bool = True) -> Starlette:
    """The endpoint. It needs IMGASSETS_QUERY_TOKEN (SettingsError without it) unless `require_token` is False,
    which only the in-process `running` uses by default (loopback, a free port, for the life of a test or bench)."""
    token = _token(settings) if require_token else None
    catalog = Catalog(settings)

    def answering(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await run_in_threadpool(handler, request)
            except QueryError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except TablesUnavailable as exc:
                return JSONResponse({"error": f"the tables in S3 cannot be read: {exc}"}, status_code=503)
            except VersionsError as exc:
                return JSONResponse({"error": f"the detector versions cannot be read: {exc}"}, status_code=503)
            response.headers["Server-Timing"] = f"query;dur={(time.perf_counter() - started) * 1000:.1f}"
            return response

        return endpoint

    def search_page(request: Request) -> Response:
        wanted = _search(request)
        found = search.run(catalog, wanted)
        return _model(
            search.SearchPage(
                **{"from": wanted.hours.start},
                to=wanted.hours.end,
                total=found.total,
                page=wanted.page,
                page_size=wanted.page_size,
                bucket=wanted.bucket,
                histogram=found.histogram,
                images=found.images,
            )
        )

    def download(request: Request) -> Response:
        fmt = request.path_params["format"]
        if fmt not in ("csv", "parquet"):
            raise QueryError(f"downloads are .csv or .parquet, not .{fmt}")
        rows = search.export(catalog, _search(request, paged=False))
        buffer = io.BytesIO()
        if fmt == "parquet":
            pq.write_table(rows, buffer, compression="zstd")
            media = "application/vnd.apache.parquet"
        else:
            flat = rows.set_column(
                rows.schema.get_field_index("counts"),
                "counts",
                [[json.dumps(dict(c), sort_keys=True) for c in rows.column("counts").to_pylist()]],
            )
            pacsv.write_csv(flat, buffer)
            media = "text/csv; charset=utf-8"
        return Response(
            buffer.getvalue(),
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="imgassets-matches.{fmt}"'},
        )

    store = ObjectStore.from_settings(settings)
    detector = DetectorConfig.from_settings(settings)

    def compare(request: Request) -> Response:
        params = request.query_params
        return _model(
            compare_pages.compare_page(
                store,
                detector.versions(),
                request.path_params["version"],
                _range(request, "7d"),
                params.get("sort") or "difference",
                _int(request, "page", 1),
                _int(request, "page_size", 48),
            )
        )

    def compare_image(request: Request) -> Response:
        return _model(
            compare_pages.image_comparison(
                store, detector.versions(), request.path_params["version"], request.path_params["key"]
            )
        )

    def source(request: Request) -> Response:
        return _model(source_pages.source_page(store, catalog, request.path_params["name"], _range(request, "24h")))

    def hour(request: Request) -> Response:
        partition = request.path_params["partition"]
        try:
            start = layout.parse_partition(partition)
        except layout.InvalidKey as exc:
            raise QueryError(str(exc)) from None
        page, size = _int(request, "page", 1), _int(request, "page_size", 48)
        search.check_page(page, size)
        params = request.query_params
        total, images, sources = search.hour_page(
            catalog,
            HourRange(start, start + timedelta(hours=1)),
            params.get("class") or None,
            _int(request, "min", 1),
            params.get("source") or None,
            page,
            size,
        )
        return _model(
            search.HourPage(partition=partition, total=total, page=page, page_size=size, sources=sources, images=images)
        )

    return Starlette(
        routes=[
            Route("/health", lambda request: JSONResponse({"ok": True})),
            Route("/search", answering(search_page)),
            Route("/search.{format:str}", answering(download)),
            Route("/hours/{partition:str}", answering(hour)),
            Route("/sources/{name:str}", answering(source)),
            Route("/versions", answering(lambda request: _model(compare_pages.version_list(detector.versions())))),
            Route("/versions/{version:str}/compare", answering(compare)),
            Route("/versions/{version:str}/images/{key:path}", answering(compare_image)),
        ],
        middleware=[
            Middleware(_Nosniff),
            Middleware(TrustedHostMiddleware, allowed_hosts=settings.query_hosts, www_redirect=False),
            Middleware(_BearerToken, token=token),
        ],
    )


def serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app(settings), host=host, port=port, log_level="warning", access_log=False)


@contextmanager
def running(settings: Settings, require_token: bool = False) -> Iterator[str]:
    """The endpoint served from a thread of this process on a free local port, for the block; yields its URL
    (the query benchmark and the tests, which call it themselves). It asks for IMGASSETS_QUERY_TOKEN only with
    `require_token`; the Host check applies either way."""
    import uvicorn

    served = app(settings, require_token=require_token)
    server = uvicorn.Server(uvicorn.Config(served, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
