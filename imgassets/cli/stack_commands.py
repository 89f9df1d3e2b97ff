"""`imgassets stack up|down|status|logs`: the embedded local stack."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys

import click

from imgassets.cli.common import fail, s3_settings
from imgassets.core.settings import SettingsError


@click.group()
def stack() -> None:
    """The local stack: Kafka, S3 (SeaweedFS), Dagster, viewer; state under IMGASSETS_HOME (.local/)."""


@stack.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="Ingest the demo photos (data/photos).")
@click.option("--viewer/--no-viewer", default=True, show_default=True, help="Build and start the viewer.")
def up(demo: bool, viewer: bool) -> None:
    """Start (or resume) every service; idempotent."""
    from imgassets.cli.ingest_commands import ingest
    from imgassets.core.settings import PROJECT_ROOT
    from imgassets.stack import Stack, StackError, ensure_local_env

    try:
        settings = ensure_local_env()
        running = Stack(settings)
        running.up(with_viewer=viewer, log=click.echo)
    except (StackError, SettingsError, subprocess.CalledProcessError) as exc:
        fail(str(exc))
    _print_status(running.status())
    from imgassets.core.viewer_routes import viewer_link
    from imgassets.devtools.synthetic_clips import DEMO_SOURCE, make_clip

    if demo:
        click.echo("ingesting demo photos …")
        ctx = click.get_current_context()
        with contextlib.suppress(SystemExit):
            ctx.invoke(ingest, paths=(PROJECT_ROOT / "data" / "photos",), watch=False, max_size=None, workers=4)
        # A gate camera's clip (people crossing a line, a truck, a dog; sources.toml draws the line and a zone).
        clip = make_clip(settings.home / "demo")
        click.echo(f"ingesting the demo clip of {DEMO_SOURCE} ({clip.frames} frames) …")
        with contextlib.suppress(SystemExit):
            ctx.invoke(
                ingest,
                paths=(clip.path,),
                watch=False,
                max_size=None,
                every_seconds=1 / clip.fps,
                workers=4,
                source_name=DEMO_SOURCE,
            )
    click.echo(
        f"\nDagster UI: {settings.dagster_url}   viewer: {settings.viewer_url}\n"
        "The sensor launches runs within seconds; watch them under Runs, detections under Catalog.\n"
        "Ingest your own: .venv/bin/imgassets ingest --source cam-2 DIR   (README: your first 10 minutes)\n"
        f"The demo clip's tracks and crossings: {viewer_link(settings.viewer_url, 'source', name=DEMO_SOURCE)}\n"
        "Try another detector version on them: .venv/bin/imgassets versions backfill conf03 --last 24h --wait, "
        "then the viewer's Compare page."
    )


@stack.command()
def down() -> None:
    """Stop every service; all data (Kafka, S3, Dagster) is kept."""
    from imgassets.stack import Stack

    Stack(s3_settings()).down(log=click.echo)


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """What runs, where, and whether it is healthy; exits 1 if anything is not healthy."""
    from imgassets.stack import Stack

    rows = Stack(s3_settings()).status()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_status(rows)
    if any(row["state"] != "healthy" for row in rows):
        sys.exit(1)


def _print_status(rows: list[dict[str, object]]) -> None:
    for row in rows:
        click.echo(f"{row['service']:18} {row['state']:9} pid {str(row['pid'] or '-'):>7}  {row['where']}")


@stack.command()
@click.argument("service", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("-n", "--lines", default=50, show_default=True)
def logs(service: str | None, follow: bool, lines: int) -> None:
    """Show a service's log (all services' last lines without SERVICE)."""
    from imgassets.stack import Stack, StackError

    running = Stack(s3_settings())
    try:
        chosen = [running.service(service)] if service else running.services()
    except StackError as exc:
        fail(str(exc))
    if follow:
        subprocess.run(["tail", "-n", str(lines), "-F", *[str(s.log_file) for s in chosen]], check=False)
        return
    for item in chosen:
        click.echo(f"==> {item.log_file} <==\n{item.tail(lines)}\n")
