"""`imgassets versions list|add|prepare|backfill`: detector versions, and an hour range reprocessed under one."""

from __future__ import annotations

import time
from pathlib import Path

import click

from imgassets.cli.common import fail, range_options, settings_or_fail


@click.group()
def versions() -> None:
    """Detector versions (detector-versions.toml, docs/detector-versions.md): list them, and reprocess a range of
    hours under one as a Dagster backfill."""


def _detector_versions():
    from imgassets.detector.versions import DetectorConfig, VersionsError

    try:
        return DetectorConfig.from_settings(settings_or_fail()).versions()
    except VersionsError as exc:
        fail(str(exc))


@versions.command("list")
def versions_list() -> None:
    """Every version, what it runs, and which one is active (the one the Kafka sensor uses)."""
    found = _detector_versions()
    for version in sorted(found.versions.values(), key=lambda v: v.name):
        marker = "* " if version.name == found.active_name else "  "
        click.echo(f"{marker}{version.name:<16} {version.describe()}")
    click.echo("(* active)")


@versions.command("add")
@click.argument("name")
@click.option("--onnx", "model", type=click.Path(path_type=Path), required=True, help="The ONNX model file.")
@click.option(
    "--names", type=click.Path(path_type=Path), help="Class names, one per line (default: the model's metadata)."
)
@click.option(
    "--layout",
    help="How its outputs are read, e.g. yolov8 (default: told from the model; docs/detector-versions.md).",
)
def versions_add(name: str, model: Path, names: Path | None, layout: str | None) -> None:
    """Add an ONNX model as detector version NAME: checks that it loads, tells its layout, runs it on the demo
    photos and appends the version, with the model's sha256, to the versions file.

    \b
    imgassets versions add yolo11n --onnx ~/models/yolo11n.onnx
    imgassets versions backfill yolo11n --last 24h --wait
    """
    from imgassets.core.settings import PROJECT_ROOT
    from imgassets.detector.adding import add_version
    from imgassets.detector.versions import DEFAULT_FILE, VersionsError
    from imgassets.stack import dagster_api
    from imgassets.stack.services import LOCATION

    settings = settings_or_fail()
    file = settings.detector_versions_file or DEFAULT_FILE
    photos = sorted((PROJECT_ROOT / "data" / "photos").glob("*.jpg"))
    try:
        added = add_version(file, _detector_versions(), name, model, names, photos, layout)
    except VersionsError as exc:
        fail(str(exc))
    version = added.version
    click.echo(f"{version.name}: {version.weights} (sha256 {version.sha256})")
    click.echo(f"  layout {version.layout}, input {version.input_size}, {added.classes} classes")
    click.echo(f"  names from {added.names_from}")
    click.echo(
        f"  runs on {', '.join(added.providers)}: {added.ms_per_image} ms per image on {len(photos)} demo photos"
    )
    for photo, labels in added.found.items():
        seen = ", ".join(f"{label} ×{count}" for label, count in labels.most_common()) or "nothing"
        click.echo(f"    {photo}: {seen}")
    click.echo(f"Written to {added.file}.")
    try:
        dagster_api.reload_location(settings.dagster_url, LOCATION)
        click.echo(f"Dagster reloaded the code location: {version.name}/detections and its comparison are there.")
    except dagster_api.DagsterUnavailable as exc:
        click.echo(f"{exc}\nDagster loads the version when it (re)starts, or from Deployment → Reload.")
    click.echo(
        f"Fill it for the hours you want, then compare it in the viewer:\n"
        f"  imgassets versions backfill {version.name} --last 24h --wait"
    )


@versions.command("prepare")
def versions_prepare() -> None:
    """Convert every ONNX Runtime version's model and save its optimized graph in the model cache, once (the code
    image does this when it is built, so a run container does not spend 0.2-0.3 s of CPU per model on it)."""
    from imgassets.defs.resource_types import DetectorResource
    from imgassets.detector.versions import VersionsError

    try:
        DetectorResource.from_settings(settings_or_fail()).prepare(log=click.echo)
    except VersionsError as exc:
        fail(str(exc))


@versions.command("backfill")
@click.argument("name")
@range_options
@click.option("--wait/--no-wait", default=False, help="Wait until the backfill ends, showing its progress.")
def versions_backfill(name: str, start: str | None, end: str | None, last: str | None, wait: bool) -> None:
    """Reprocess a range of hours under version NAME and compare it with the active one: one backfill of
    NAME/detections and NAME/comparison, launched through Dagster's API as its UI's Materialize dialog does.

    \b
    imgassets versions backfill conf03 --last 24h --wait
    """
    from imgassets.core import layout
    from imgassets.core.viewer_routes import viewer_link
    from imgassets.reading import query as querying
    from imgassets.stack import dagster_api

    settings = settings_or_fail()
    found = _detector_versions()
    if name not in found.versions or name == found.active_name:
        others = ", ".join(v.name for v in found.others) or "none"
        fail(f"{name!r} is not a version with its own assets (active: {found.active_name}; others: {others})")
    try:
        hours = querying.HourRange.parse(start, end, last)
    except querying.QueryError as exc:
        fail(str(exc))
    first = layout.parse_partition(settings.partitions_start)
    partitions = [layout.partition_key(hour) for hour in hours.hours() if hour >= first]
    if not partitions:
        fail(f"no hour of the range is a partition (partitions start at {settings.partitions_start})")
    url = settings.dagster_url
    try:
        backfill = dagster_api.launch_backfill(
            url, [[name, "detections"], [name, "comparison"], [name, "tracks"]], partitions, f"detector version {name}"
        )
        click.echo(f"backfill {backfill}: {len(partitions)} hours under {name} → {url}/runs/b/{backfill}")
        while wait:
            state = dagster_api.backfill_state(url, backfill)
            click.echo(f"  {state.status}: {state.finished} of {state.runs} runs finished ({len(partitions)} hours)")
            if state.status in dagster_api.FINAL_STATES:
                if state.status not in ("COMPLETED", "COMPLETED_SUCCESS"):
                    reasons = [state.error] if state.error else dagster_api.failed_steps(url, backfill)
                    fail("\n  ".join([f"backfill {backfill} ended {state.status}", *filter(None, reasons)]))
                break
            time.sleep(5)
    except dagster_api.DagsterUnavailable as exc:
        fail(str(exc))
    click.echo(f"compare: {viewer_link(settings.viewer_url, 'compare')}?version={name}")
