"""The viewer's URLs: the one home of its pages' paths, for the links the pipeline writes (asset metadata, CLI
output). The viewer reads the same table from contract/viewer-routes.json (imgassets/devtools/contract.py)."""

from __future__ import annotations

import re
from urllib.parse import quote

#: The viewer's pages and resource routes, in React Router's path syntax: `:name` fills one path segment,
#: a trailing `*` the rest of the path (slashes included) and is filled by the parameter named in `splat`.
VIEWER_ROUTES: dict[str, dict[str, str]] = {
    "overview": {"path": "/"},
    "hour": {"path": "/hours/:partition"},
    "image": {"path": "/images/*", "splat": "key"},
    "media_original": {"path": "/media/original/*", "splat": "key"},
    "media_thumbnail": {"path": "/media/thumbnail/*", "splat": "key"},
    "search": {"path": "/search"},
    "search_download": {"path": "/search/download/:format"},
    "compare": {"path": "/compare"},
    "compare_image": {"path": "/compare/images/*", "splat": "key"},
    "source": {"path": "/sources/:name"},
    # Access (docs/security.md): the login page, signing out, and a health check answered in every access mode.
    "login": {"path": "/login"},
    "logout": {"path": "/logout"},
    "health": {"path": "/healthz"},
}

# Characters a parameter keeps as they are; everything else is percent-encoded (UTF-8). The viewer's
# `viewerPath` (frontend/app/lib/viewer-routes.ts) encodes the same way.
_SEGMENT_SAFE = ":@"  # plus A-Z a-z 0-9 - . _ ~, which quote() always keeps
_SPLAT_SAFE = ":@/"
_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)")


def viewer_path(route: str, **params: str) -> str:
    """The viewer's path of `route` (a key of `VIEWER_ROUTES`) with `params` filled in and percent-encoded.

    Raises ValueError for an unknown route, a missing, empty or unexpected parameter.
    """
    spec = VIEWER_ROUTES.get(route)
    if spec is None:
        raise ValueError(f"unknown viewer route {route!r}; known: {', '.join(VIEWER_ROUTES)}")
    pattern = spec["path"]
    expected = _PARAM.findall(pattern) + ([spec["splat"]] if "splat" in spec else [])
    missing = [name for name in expected if not params.get(name)]
    unexpected = sorted(set(params) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"viewer route {route!r} ({pattern}) takes {', '.join(expected) or 'no parameters'}"
            + (f"; missing or empty: {', '.join(missing)}" if missing else "")
            + (f"; unexpected: {', '.join(unexpected)}" if unexpected else "")
        )
    path = _PARAM.sub(lambda m: quote(str(params[m[1]]), safe=_SEGMENT_SAFE), pattern)
    if "splat" in spec:
        path = path[: -len("*")] + quote(str(params[spec["splat"]]), safe=_SPLAT_SAFE)
    return path


def viewer_link(base_url: str, route: str, **params: str) -> str:
    """Absolute link into the viewer, e.g.

    viewer_link("http://127.0.0.1:3001", "image", key="images/2026/11/25/04/5a9522051c3c-dog.jpg")
        → "http://127.0.0.1:3001/images/images/2026/11/25/04/5a9522051c3c-dog.jpg"
    viewer_link("http://127.0.0.1:3001/", "hour", partition="2026-11-25-04:00")
        → "http://127.0.0.1:3001/hours/2026-11-25-04:00"
    """
    return base_url.rstrip("/") + viewer_path(route, **params)
