"""The `imgassets` command: ingest images and videos, run the local stack."""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from imgassets.redaction import install_redaction
from imgassets.settings import SettingsError, get_settings

if TYPE_CHECKING:  # the commands import their modules when they run, so `imgassets --help` stays fast
    from imgassets import dlq as dead_letters
    from imgassets import ingest as ingest_module


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging (secrets are redacted).")
def main(verbose: bool) -> None:
    """Real-time image analytics: ingest → Kafka → Dagster assets → S3 → viewer."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    if not verbose:
        # kafka-python warns "No node available for metadata refresh" while its first connection is still
        # opening; real delivery failures surface as errors of the send itself.
        logging.getLogger("kafka.cluster").setLevel(logging.ERROR)
        # Connection attempts to an unreachable broker are logged per retry; the command's own error says it once.
        for name in ("kafka.net.manager", "kafka.net.connection"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--watch", is_flag=True, help="Keep running and ingest new files as they appear in the folders.")
@click.option("--max-size", type=click.IntRange(32, 10000), help="Prepare: shrink images to this longest side (px).")
@click.option(
    "--every",
    "every_seconds",
    type=click.FloatRange(0.01),
    default=1.0,
    show_default=True,
    help="Videos: extract one frame every this many seconds.",
)
@click.option("--workers", type=click.IntRange(1, 32), default=4, show_default=True, help="Parallel uploads.")
@click.option(
    "--source",
    "source_name",
    metavar="NAME",
    help="Camera or site id every image carries (filters and counts in the viewer and queries). Default: this host.",
)
def ingest(
    paths: tuple[Path, ...],
    watch: bool,
    max_size: int | None,
    every_seconds: float,
    workers: int,
    source_name: str | None,
) -> None:
    """Upload images (and frames of videos) to S3 and announce each on Kafka.

    PATHS are image files, video files (mp4, avi, mkv, …) or folders (searched recursively). Images already
    ingested (same content) are skipped.
    """
    from kafka.errors import KafkaError

    from imgassets import ingest as ingesting
    from imgassets.kafka_io import make_producer, settings_client_config
    from imgassets.storage import ObjectStore

    settings = _settings()
    if source_name is not None:
        try:
            ingesting.check_source_name(source_name)
        except ValueError as exc:
            _fail(str(exc))
    if watch:
        not_folders = [str(p) for p in paths if not p.is_dir()]
        if not_folders:
            _fail(f"--watch needs folders; not a folder: {', '.join(not_folders)}")
    else:
        try:
            files = ingesting.discover(paths)
        except FileNotFoundError as exc:
            _fail(str(exc))
    store = ObjectStore.from_settings(settings)
    try:
        producer = make_producer(settings_client_config(settings))
    except KafkaError as exc:
        _fail(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}")
    ingestor = ingesting.Ingestor(store, producer, settings.kafka_topic, source_name)

    def items(found: Iterable[Path]) -> Iterator[ingesting.Item]:
        return ingesting.path_items(
            found, every_seconds, max_size, on_skip=lambda path, why: click.echo(f"skipped {path}: {why}", err=True)
        )

    try:
        if watch:
            _watch(paths, ingestor, items, workers)
            return
        with tqdm(desc="ingesting", unit="img", disable=None) as progress:
            report = ingestor.ingest_many(items(files), workers, progress)
        _print_report(report)
    finally:
        producer.close()
    if report.failed:
        sys.exit(1)


def _print_report(report: ingest_module.Report) -> None:
    click.echo(f"sent {len(report.sent)}, already ingested {len(report.duplicates)}, failed {len(report.failed)}")
    for path, reason in report.failed:
        click.echo(f"  failed: {path}: {reason}", err=True)


def _watch(
    paths: tuple[Path, ...],
    ingestor: ingest_module.Ingestor,
    items: Callable[[Iterable[Path]], Iterator[ingest_module.Item]],
    workers: int,
) -> None:
    from imgassets import ingest as ingesting

    watcher = ingesting.Watcher(
        paths,
        ingestor,
        workers,
        make_items=items,
        echo=click.echo,
        warn=lambda text: click.echo(text, err=True),
    )
    watcher.start()  # before the scan: files created meanwhile are seen
    try:
        with tqdm(desc="ingesting", unit="img", disable=None) as progress:
            report = watcher.scan(progress)
        _print_report(report)
        click.echo(f"watching {', '.join(map(str, paths))} (Ctrl-C to stop)")
        watcher.run()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()


class _When(click.ParamType):
    name = "WHEN"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        from imgassets.dlq import parse_when

        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _selection_options(command: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option(
            "--reason",
            "reasons",
            multiple=True,
            metavar="TEXT",
            help="Reason contains TEXT (case-insensitive); repeat for any of several.",
        ),
        click.option(
            "--kind",
            "kinds",
            multiple=True,
            type=click.Choice(["message", "batch", "gap"]),
            help="Only this kind; repeat for several.",
        ),
        click.option("--since", type=_When(), help="Failed at or after: ISO date/time (UTC) or an age (2h, 7d)."),
        click.option("--until", type=_When(), help="Failed at or before: ISO date/time (UTC) or an age (2h, 7d)."),
        click.option("--limit", type=click.IntRange(0), help="At most this many (the oldest first)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@main.group()
@click.option(
    "--timeout",
    type=click.FloatRange(0.5),
    default=30,
    show_default=True,
    help="Seconds to wait for Kafka before giving up.",
)
@click.pass_context
def dlq(ctx: click.Context, timeout: float) -> None:
    """The dead-letter topic (IMGASSETS_KAFKA_DLQ_TOPIC): list and replay dead letters.

    Kinds: message (the sensor could not use it), batch (its run failed for good), gap (offsets vanished from
    Kafka before they were read; nothing to replay).
    """
    ctx.obj = {"timeout": timeout}


def _dlq_selection(
    reasons: tuple[str, ...], kinds: tuple[str, ...], since: datetime | None, until: datetime | None, limit: int | None
) -> dead_letters.Selection:
    from imgassets.dlq import Selection

    return Selection(reasons=reasons, kinds=kinds, since=since, until=until, limit=limit)  # type: ignore[arg-type]


@dlq.command("list")
@_selection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (the count goes to stderr).")
@click.pass_context
def dlq_list(ctx: click.Context, as_json: bool, **selection_options: Any) -> None:
    """Read the dead-letter topic from its beginning to its current end and show each dead letter:
    failed at, kind, source topic/partition@offset, image key, reason.

    \b
    imgassets dlq list --since 2h
    imgassets dlq list --kind batch --reason "S3" --json
    """
    from imgassets import dlq as dead_letters

    settings = get_settings_or_fail()
    selection = _dlq_selection(**selection_options)
    count = invalid = 0
    try:
        for entry in dead_letters.select(
            dead_letters.read_dead_letters(settings, timeout=ctx.obj["timeout"]), selection
        ):
            count += 1
            invalid += entry.letter is None
            click.echo(json.dumps(entry.to_json()) if as_json else entry.line())
    except dead_letters.DlqError as exc:
        _fail(str(exc))
    noun = "dead letter" if count == 1 else "dead letters"
    extra = f" ({invalid} not valid dead-letter records)" if invalid else ""
    click.echo(f"{count} {noun} in {settings.kafka_dlq_topic}{extra}", err=as_json)


@dlq.command("replay")
@_selection_options
@click.option("--to-topic", help="Send here instead of the image topic (IMGASSETS_KAFKA_TOPIC).")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.pass_context
def dlq_replay(ctx: click.Context, to_topic: str | None, dry_run: bool, **selection_options: Any) -> None:
    """Re-announce the selected dead letters' original messages on the image topic.

    Each value is sent as it was first received, keyed by its image key (when it is a JSON message with a
    "key"), and counted as replayed only once Kafka acknowledged it. Gaps and letters without their original
    value are listed as not replayable and never sent. Replaying a letter twice announces it twice; that is
    harmless, because the pipeline's writes are idempotent (records are overwritten, never duplicated).
    Fix the cause first (say S3 was down), then replay.

    \b
    imgassets dlq replay --kind batch --since 1d --dry-run
    imgassets dlq replay --reason "outside the partitions"
    """
    from imgassets import dlq as dead_letters

    settings = get_settings_or_fail()
    selection = _dlq_selection(**selection_options)
    timeout = ctx.obj["timeout"]
    try:
        chosen = list(dead_letters.select(dead_letters.read_dead_letters(settings, timeout=timeout), selection))
        sendable = sum(1 for entry in chosen if not dead_letters.plan(entry).not_replayable)
        with tqdm(total=sendable, desc="replaying", unit="msg", disable=None if sendable > 1 else True) as progress:

            def show(outcome: str, planned: dead_letters.Planned, error: str | None) -> None:
                where = _dlq_where(planned.entry)
                if outcome == "not replayable":
                    progress.write(f"not replayable: {where}: {error}", file=sys.stderr)
                    return
                progress.update(1)
                target = f"{planned.key.decode(errors='replace') if planned.key else '-'}"
                if outcome == "failed":
                    progress.write(f"failed: {where}: {error}", file=sys.stderr)
                elif outcome == "would replay":
                    progress.write(
                        f"would send {where} → {report_topic} key {target} ({len(planned.value or b'')} bytes)"
                    )
                else:
                    progress.write(f"sent {where} → {report_topic} key {target}")

            report_topic = to_topic or settings.kafka_topic
            report = dead_letters.replay(settings, chosen, to_topic, dry_run, timeout, show)
    except dead_letters.DlqError as exc:
        _fail(str(exc))
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


def _dlq_where(entry: object) -> str:
    letter = entry.letter  # type: ignore[attr-defined]
    if letter is None:
        return f"dead-letter record {entry.partition}@{entry.offset}"  # type: ignore[attr-defined]
    return f"{letter.topic}/{letter.partition}@{letter.offset} ({letter.kind})"


def get_settings_or_fail():
    try:
        return get_settings()
    except SettingsError as exc:
        _fail(str(exc))


def _range_options(command: Callable[..., None]) -> Callable[..., None]:
    """--from/--to or --last: a range of upload hours (`query.HourRange.parse`)."""
    for option in reversed(
        [
            click.option(
                "--from",
                "start",
                metavar="TIME",
                help="First upload hour: 2026-11-25, 2026-11-25T04:00 or 2026-11-25-04:00.",
            ),
            click.option("--to", "end", metavar="TIME", help="End of the range, exclusive (default: now)."),
            click.option("--last", metavar="AGE", help="The last 6h, 7d, 2w (the current hour included)."),
        ]
    ):
        command = option(command)
    return command


@main.command("query")
@click.argument("sql")
@_range_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json", "parquet"]),
    default="table",
    show_default=True,
    help="json: one object per line; parquet needs --output.",
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout.")
def query_command(
    sql: str, start: str | None, end: str | None, last: str | None, output_format: str, output: Path | None
) -> None:
    """Run SQL over the `detections` and `images` tables of a range of upload hours (DuckDB, reading only those
    hours' Parquet objects in S3).

    \b
    imgassets query --last 7d "SELECT label, count(*) FROM detections GROUP BY 1 ORDER BY 2 DESC"
    imgassets query --from 2026-11-01 --to 2026-12-01 --format csv -o cars.csv \\
      "SELECT date_trunc('day', upload_hour) AS day, count(*) AS cars FROM detections WHERE label = 'car' GROUP BY 1"
    """
    from imgassets import query as querying

    if output_format == "parquet" and output is None:
        _fail("--format parquet writes a file: give --output")
    try:
        hours = querying.HourRange.parse(start, end, last)
        result = querying.query(sql, hours, get_settings_or_fail())
    except (querying.QueryError, querying.TablesUnavailable, SettingsError) as exc:
        _fail(str(exc))
    querying.write(result, output_format, output)
    if output is not None:
        click.echo(f"{result.num_rows} rows → {output}", err=True)


@main.group()
def versions() -> None:
    """Detector versions (detector-versions.toml, docs/detector-versions.md): list them, and reprocess a range of
    hours under one as a Dagster backfill."""


def _detector_versions():
    from imgassets.detector.versions import DetectorConfig, VersionsError

    try:
        return DetectorConfig.from_settings(get_settings_or_fail()).versions()
    except VersionsError as exc:
        _fail(str(exc))


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
    from imgassets import dagster_api
    from imgassets.detector.adding import add_version
    from imgassets.detector.versions import DEFAULT_FILE, VersionsError
    from imgassets.settings import PROJECT_ROOT
    from imgassets.stack.services import LOCATION

    settings = get_settings_or_fail()
    file = settings.detector_versions_file or DEFAULT_FILE
    photos = sorted((PROJECT_ROOT / "data" / "photos").glob("*.jpg"))
    try:
        added = add_version(file, _detector_versions(), name, model, names, photos, layout)
    except VersionsError as exc:
        _fail(str(exc))
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
    from imgassets.detector.versions import VersionsError
    from imgassets.resources import DetectorResource

    try:
        DetectorResource.from_settings(get_settings_or_fail()).prepare(log=click.echo)
    except VersionsError as exc:
        _fail(str(exc))


@versions.command("backfill")
@click.argument("name")
@_range_options
@click.option("--wait/--no-wait", default=False, help="Wait until the backfill ends, showing its progress.")
def versions_backfill(name: str, start: str | None, end: str | None, last: str | None, wait: bool) -> None:
    """Reprocess a range of hours under version NAME and compare it with the active one: one backfill of
    NAME/detections and NAME/comparison, launched through Dagster's API as its UI's Materialize dialog does.

    \b
    imgassets versions backfill conf03 --last 24h --wait
    """
    from imgassets import dagster_api, layout
    from imgassets import query as querying
    from imgassets.contract import viewer_link

    settings = get_settings_or_fail()
    found = _detector_versions()
    if name not in found.versions or name == found.active_name:
        others = ", ".join(v.name for v in found.others) or "none"
        _fail(f"{name!r} is not a version with its own assets (active: {found.active_name}; others: {others})")
    try:
        hours = querying.HourRange.parse(start, end, last)
    except querying.QueryError as exc:
        _fail(str(exc))
    first = layout.parse_partition(settings.partitions_start)
    partitions = [layout.partition_key(hour) for hour in hours.hours() if hour >= first]
    if not partitions:
        _fail(f"no hour of the range is a partition (partitions start at {settings.partitions_start})")
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
                    _fail("\n  ".join([f"backfill {backfill} ended {state.status}", *filter(None, reasons)]))
                break
            time.sleep(5)
    except dagster_api.DagsterUnavailable as exc:
        _fail(str(exc))
    click.echo(f"compare: {viewer_link(settings.viewer_url, 'compare')}?version={name}")


@main.command("bench-queries")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True)
@click.option("--images-per-hour", type=click.IntRange(1, 100_000), default=600, show_default=True)
@click.option("--repeats", type=click.IntRange(1, 50), default=5, show_default=True, help="Warm repetitions.")
@click.option(
    "--busy-hour",
    "busy_hour_images",
    type=click.IntRange(1, 1_000_000),
    default=100_000,
    show_default=True,
    help="Images of the one busy hour whose hour page is timed.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
def bench_queries(days: int, images_per_hour: int, repeats: int, busy_hour_images: int, out: Path | None) -> None:
    """Generate DAYS of synthetic hour tables in the local S3 (its own bucket) and time a month-wide search,
    a per-class-per-day aggregation, the search page's server response and a busy hour's page, cold and warm."""
    from imgassets import query_bench

    figures = query_bench.run(get_settings_or_fail(), days, images_per_hour, repeats, busy_hour_images, log=click.echo)
    if out is not None:
        out.write_text(json.dumps(figures, indent=2, default=str))
        click.echo(f"figures → {out}")


@main.command("serve-queries")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), help="Default: IMGASSETS_QUERY_PORT.")
def serve_queries(host: str, port: int | None) -> None:
    """Serve the query endpoint the viewer's search and hour pages call (started by `imgassets stack up`)."""
    from imgassets import query_server

    settings = get_settings_or_fail()
    try:
        query_server.serve(settings, host, port or settings.query_port)
    except SettingsError as exc:
        _fail(str(exc))


@main.command("viewer-password")
def viewer_password() -> None:
    """Print the hash of a password for the viewer's login: the value of IMGASSETS_VIEWER_PASSWORD_HASH
    (scrypt; docs/security.md). The password is asked twice on a terminal, or read from stdin's first line.

    \b
    imgassets viewer-password
    printf '%s\n' "$PASSWORD" | imgassets viewer-password
    """
    from imgassets.settings import hash_viewer_password

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        _fail("the password must have at least 8 characters")
    click.echo(hash_viewer_password(password))


@main.group()
def stack() -> None:
    """The local stack: Kafka, S3 (SeaweedFS), Dagster, viewer; state under IMGASSETS_HOME (.local/)."""


@stack.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="Ingest the demo photos (data/photos).")
@click.option("--viewer/--no-viewer", default=True, show_default=True, help="Build and start the viewer.")
def up(demo: bool, viewer: bool) -> None:
    """Start (or resume) every service; idempotent."""
    from imgassets.settings import PROJECT_ROOT
    from imgassets.stack import Stack, StackError, ensure_local_env

    try:
        settings = ensure_local_env()
        running = Stack(settings)
        running.up(with_viewer=viewer, log=click.echo)
    except (StackError, SettingsError, subprocess.CalledProcessError) as exc:
        _fail(str(exc))
    _print_status(running.status())
    from imgassets.contract import viewer_link
    from imgassets.synthetic_clips import DEMO_SOURCE, make_clip

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

    Stack(_settings()).down(log=click.echo)


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """What runs, where, and whether it is healthy; exits 1 if anything is not healthy."""
    from imgassets.stack import Stack

    rows = Stack(_settings()).status()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_status(rows)
    if any(row["state"] != "healthy" for row in rows):
        sys.exit(1)


@main.command()
@click.option(
    "--deployment",
    type=click.Choice(["local", "compose"]),
    help="The deployment to render for (default: IMGASSETS_DEPLOYMENT, else local).",
)
@click.option(
    "--dagster-home",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DAGSTER_HOME/dagster.yaml instead of printing it.",
)
def instance(deployment: str | None, dagster_home: Path | None) -> None:
    """Render the Dagster instance config (dagster.yaml) of a deployment from the one shared template."""
    from typing import cast

    from imgassets.settings import Deployment
    from imgassets.stack import instance as dagster_instance

    chosen = cast(Deployment, deployment) if deployment else get_settings_or_fail().deployment
    if dagster_home is None:
        click.echo(dagster_instance.render(chosen), nl=False)
    else:
        click.echo(f"wrote {dagster_instance.write(dagster_home, chosen)} ({chosen})", err=True)


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

    running = Stack(_settings())
    try:
        chosen = [running.service(service)] if service else running.services()
    except StackError as exc:
        _fail(str(exc))
    if follow:
        subprocess.run(["tail", "-n", str(lines), "-F", *[str(s.log_file) for s in chosen]], check=False)
        return
    for item in chosen:
        click.echo(f"==> {item.log_file} <==\n{item.tail(lines)}\n")


@main.command()
@click.option(
    "--images",
    "images_count",
    type=click.IntRange(10),
    default=1000,
    show_default=True,
    help="Images for the raw and end-to-end throughput phases.",
)
@click.option(
    "--rate",
    type=click.FloatRange(0.1),
    help="Latency phase ingest rate (default: 60% of the measured end-to-end rate).",
)
@click.option("--duration", type=click.FloatRange(5), default=45, show_default=True, help="Latency phase seconds.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
@click.option("--keep", is_flag=True, help="Leave the bench stack running afterwards.")
@click.option(
    "--drain",
    "drain_count",
    type=click.IntRange(1),
    default=400,
    show_default=True,
    help="Drain phase: images announced while the sensor is stopped, then drained once it starts.",
)
@click.option("--version", help="The detector version the bench's sensor uses (default: the active one), e.g. int8.")
def bench(
    images_count: int, rate: float | None, duration: float, out: Path, keep: bool, drain_count: int, version: str | None
) -> None:
    """Measure detector vs end-to-end throughput, latency and memory on a dedicated local stack."""
    from imgassets import bench as benchmark
    from imgassets.stack import StackError, ensure_local_env

    try:
        ensure_local_env()
        result = benchmark.run(images_count, rate, duration, out, keep, drain_count, log=click.echo, version=version)
    except (StackError, SettingsError, TimeoutError) as exc:
        _fail(str(exc))
    click.echo(json.dumps(result, indent=2))


def _settings():
    try:
        settings = get_settings()
        settings.require_s3_credentials()
        return settings
    except SettingsError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
