"""The contract between the pipeline and the viewer, exported to `contract/` at the repository root.

    contract/records.schema.json   JSON Schema of the documents the pipeline writes (records.py, messages.py)
    contract/viewer-routes.json    the viewer's URL paths (`VIEWER_ROUTES` below), with example links
    contract/viewer-settings.json  the defaults and limits of the IMGASSETS_* settings the viewer's server reads
    contract/layout-vectors.json   S3 key layout test vectors (hand-written; read by pytest and vitest)

Python is the source of both generated files; the viewer generates its TypeScript from them (`npm run contract`
in frontend/). `python -m imgassets.devtools.contract --write` rewrites them, `--check` exits non-zero and prints the
difference when a committed file is stale.

The route table lives here, not only in the JSON file, because neither deployed image carries `contract/`: the
pipeline's image installs the `imgassets` package, the viewer's image builds from `frontend/` alone.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from imgassets.core.messages import DeadLetter, ImageMessage
from imgassets.core.records import (
    Comparison,
    DetectionRecord,
    HourRollup,
    Manifest,
    Rejection,
    Shard,
    SourceTracks,
    Summary,
    TrackSummary,
)
from imgassets.core.settings import ENV_PREFIX, PROJECT_ROOT, Settings
from imgassets.core.viewer_routes import VIEWER_ROUTES, viewer_path
from imgassets.reading.compare_pages import ComparePage, ImageComparison, VersionList
from imgassets.reading.search import HourPage, SearchPage
from imgassets.reading.source_pages import SourcePage

CONTRACT_DIR = PROJECT_ROOT / "contract"
SCHEMA_FILE = CONTRACT_DIR / "records.schema.json"
ROUTES_FILE = CONTRACT_DIR / "viewer-routes.json"
SETTINGS_FILE = CONTRACT_DIR / "viewer-settings.json"
LAYOUT_VECTORS_FILE = CONTRACT_DIR / "layout-vectors.json"

#: Documents that are stored or sent, each with its version tag: S3 records first, then the Kafka messages.
VERSIONED_DOCUMENTS: tuple[type[BaseModel], ...] = (
    DetectionRecord,
    Rejection,
    Manifest,
    Shard,
    Summary,
    HourRollup,
    Comparison,
    SourceTracks,
    TrackSummary,
    ImageMessage,
    DeadLetter,
)
#: Top-level documents: the versioned ones, then the query endpoint's answers (what the viewer's server reads,
#: untagged: both sides are deployed together). Everything they contain comes along.
DOCUMENTS: tuple[type[BaseModel], ...] = (
    *VERSIONED_DOCUMENTS,
    SearchPage,
    HourPage,
    VersionList,
    ComparePage,
    ImageComparison,
    SourcePage,
)

_EXAMPLE_KEY = "images/2026/11/25/04/5a9522051c3c-dog.jpg"
_EXAMPLES: list[tuple[str, dict[str, str]]] = [
    ("overview", {}),
    ("hour", {"partition": "2026-11-25-04:00"}),
    ("image", {"key": _EXAMPLE_KEY}),
    ("media_thumbnail", {"key": _EXAMPLE_KEY}),
    ("media_original", {"key": _EXAMPLE_KEY}),
    ("image", {"key": "images/2026/11/25/04/5a9522051c3c-a b#?%ä.jpg"}),
    ("hour", {"partition": "a/b?c"}),
    ("search", {}),
    ("search_download", {"format": "csv"}),
    ("compare", {}),
    ("compare_image", {"key": _EXAMPLE_KEY}),
    ("source", {"name": "cam-gate"}),
    ("source", {"name": "site:north@2"}),
]


def routes_document() -> dict[str, Any]:
    return {
        "$comment": (
            "The viewer's URL paths, in React Router syntax (':name' fills one path segment; a trailing '*' the "
            "rest of the path, filled by the parameter named in 'splat'). Parameters are percent-encoded except "
            "A-Z a-z 0-9 - . _ ~ : @ (and / in a splat). Generated from imgassets/devtools/contract.py "
            "(python -m imgassets.devtools.contract --write); do not edit. The viewer reads it through "
            "frontend/app/lib/viewer-routes.generated.ts (npm run contract)."
        ),
        "routes": VIEWER_ROUTES,
        "examples": [
            {"route": route, "params": params, "path": viewer_path(route, **params)} for route, params in _EXAMPLES
        ],
    }


#: The settings the viewer's server reads (frontend/app/lib/config.server.ts), by field of `Settings`.
VIEWER_SETTINGS = (
    "s3_endpoint_url",
    "s3_region",
    "s3_bucket",
    "s3_addressing_style",
    "dagster_url",
    "query_url",
    "viewer_auth",
    "viewer_session_hours",
    "viewer_proxy_user_header",
    "viewer_login_attempts",
)


def settings_document() -> dict[str, Any]:
    """Each setting's variable, its default (the local deployment's; compose sets every one it changes), and
    what it may be: choices, or a whole number's bounds, or a pattern."""
    settings: dict[str, dict[str, Any]] = {}
    for name in VIEWER_SETTINGS:
        field = Settings.model_fields[name]
        entry: dict[str, Any] = {"default": field.default}
        choices = getattr(field.annotation, "__args__", None)
        if choices and all(isinstance(choice, str) for choice in choices):
            entry["choices"] = list(choices)
        for rule in field.metadata:
            for key, bound in (("ge", "min"), ("le", "max"), ("pattern", "pattern")):
                if getattr(rule, key, None) is not None:
                    entry[bound] = getattr(rule, key)
        settings[f"{ENV_PREFIX}{name.upper()}"] = entry
    return {
        "$comment": (
            "The IMGASSETS_* settings the viewer's server reads, with their defaults and limits as "
            "imgassets/core/settings.py defines them. Generated from imgassets/devtools/contract.py "
            "(python -m imgassets.devtools.contract --write); do not edit. The viewer reads it through "
            "frontend/app/lib/settings.generated.ts (npm run contract)."
        ),
        "settings": settings,
    }


class _ContractSchema(GenerateJsonSchema):
    # Field titles ("Image Key") would become TypeScript type aliases; model titles stay (interface names).
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def records_schema() -> dict[str, Any]:
    """JSON Schema of every document, as a reader accepts it ("validation" mode: a field with a default may be
    absent, so records written before the field existed still conform)."""
    _, definitions = models_json_schema(
        [(model, "validation") for model in DOCUMENTS],
        ref_template="#/$defs/{model}",
        schema_generator=_ContractSchema,
    )
    defs: dict[str, Any] = definitions["$defs"]
    for definition in defs.values():
        # Every writer emits the version tag; it defaults only so that code need not pass it.
        if "schema" in definition.get("properties", {}):
            definition["required"] = ["schema", *[f for f in definition.get("required", []) if f != "schema"]]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Document",
        "description": (
            "Any JSON document imgassets writes: records in S3 (detection, rejection, manifest, shard, summary), "
            "Kafka messages (image announcement, dead letter) and the query endpoint's answers (search page, hour "
            "page). Generated from imgassets/core/records.py, imgassets/core/messages.py and "
            "imgassets/reading/search.py by `python -m imgassets.devtools.contract --write`; do not edit."
        ),
        "anyOf": [{"$ref": f"#/$defs/{model.__name__}"} for model in DOCUMENTS],
        "$defs": defs,
    }


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generated_files() -> dict[Path, str]:
    return {
        SCHEMA_FILE: _render(records_schema()),
        ROUTES_FILE: _render(routes_document()),
        SETTINGS_FILE: _render(settings_document()),
    }


def stale_files() -> dict[Path, str]:
    """Each committed file that differs from what the code generates, with a unified diff (committed → wanted)."""
    stale: dict[Path, str] = {}
    for path, wanted in generated_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != wanted:
            name = str(path.relative_to(CONTRACT_DIR.parent))
            stale[path] = "".join(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    wanted.splitlines(keepends=True),
                    fromfile=f"{name} (committed)",
                    tofile=f"{name} (from the code)",
                )
            )
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m imgassets.devtools.contract",
        description="Export the pipeline/viewer contract (records JSON Schema, viewer routes) to contract/.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="(re)write the generated files")
    mode.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale, showing the diff")
    args = parser.parse_args(argv)
    if args.write:
        CONTRACT_DIR.mkdir(exist_ok=True)
        for path, text in generated_files().items():
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(CONTRACT_DIR.parent)}")
        print("now regenerate the viewer's types: cd frontend && npm run contract")
        return 0
    stale = stale_files()
    for path, diff in stale.items():
        lines = diff.splitlines()
        shown = "\n".join(lines[:200]) + (f"\n… {len(lines) - 200} more lines" if len(lines) > 200 else "")
        print(f"{path.relative_to(CONTRACT_DIR.parent)} is stale:\n{shown}\n", file=sys.stderr)
    if stale:
        print(
            "run `.venv/bin/python -m imgassets.devtools.contract --write`, then `cd frontend && npm run contract`",
            file=sys.stderr,
        )
        return 1
    print("contract/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
