"""The `imgassets` command: ingest images and videos, run the local stack."""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from tqdm import tqdm

from imgassets.settings import SettingsError, get_settings


def _fail(message: str) -> None:
    raise click.ClickException(message)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """Real-time image analytics: ingest → Kafka → Dagster assets → S3 → viewer."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        # kafka-python warns "No node available for metadata refresh" while its first connection is still
        # opening; real delivery failures surface as errors of the send itself.
        logging.getLogger("kafka.cluster").setLevel(logging.ERROR)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--watch", is_flag=True, help="Keep running and ingest new files as they appear in the folders.")
@click.option("--max-size", type=click.IntRange(32, 10000), help="Prepare: shrink images to this longest side (px).")
@click.option("--every", "every_seconds", type=click.FloatRange(0.01), default=1.0, show_default=True,
              help="Videos: extract one frame every this many seconds.")
@click.option("--workers", type=click.IntRange(1, 32), default=4, show_default=True, help="Parallel uploads.")
def ingest(paths: tuple[Path, ...], watch: bool, max_size: int | None, every_seconds: float, workers: int) -> None:
    """Upload images (and frames of videos) to S3 and announce each on Kafka.

    PATHS are image files, video files (mp4, avi, mkv, …) or folders (searched recursively). Images already
    ingested (same content) are skipped.
    """
    from imgassets import ingest as ingesting
    from imgassets.kafka_io import make_producer, settings_client_config
    from imgassets.storage import ObjectStore

    settings = _settings()
    try:
        files = ingesting.discover(paths)
    except FileNotFoundError as exc:
        _fail(str(exc))
    if watch and not all(p.is_dir() for p in paths):
        _fail("--watch needs folders")
    store = ObjectStore.from_settings(settings)
    producer = make_producer(settings_client_config(settings))
    ingestor = ingesting.Ingestor(store, producer, settings.kafka_topic)

    def items(found: list[Path]) -> Iterator[ingesting.Item]:
        for path in found:
            try:
                if ingesting.is_video(path):
                    yield from ingesting.video_frames(path, every_seconds, max_size)
                else:
                    yield ingesting.image_item(path, max_size)
            except (OSError, ValueError) as exc:
                click.echo(f"skipped {path}: {exc}", err=True)

    try:
        with tqdm(desc="ingesting", unit="img", disable=None) as progress:
            report = ingestor.ingest_many(items(files), workers, progress)
        _print_report(report)
        if watch:
            _watch(paths, ingestor, items, workers)
    finally:
        producer.close()
    if report.failed and not watch:
        sys.exit(1)


def _print_report(report: object) -> None:
    click.echo(
        f"sent {len(report.sent)}, already ingested {len(report.duplicates)}, failed {len(report.failed)}"  # type: ignore[attr-defined]
    )
    for path, reason in report.failed:  # type: ignore[attr-defined]
        click.echo(f"  failed: {path}: {reason}", err=True)


def _watch(paths: tuple[Path, ...], ingestor: object, items: object, workers: int) -> None:
    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    from imgassets import ingest as ingesting

    arrived: queue.Queue[Path] = queue.Queue()

    class Handler(FileSystemEventHandler):
        def on_created(self, event: FileSystemEvent) -> None:
            if not event.is_directory:
                arrived.put(Path(str(event.src_path)))

        def on_moved(self, event: FileSystemEvent) -> None:
            if not event.is_directory:
                arrived.put(Path(str(event.dest_path)))

    observer = Observer()
    for path in paths:
        observer.schedule(Handler(), str(path), recursive=True)
    observer.start()
    click.echo(f"watching {', '.join(map(str, paths))} (Ctrl-C to stop)")
    try:
        while True:
            path = arrived.get()
            if path.suffix.lower() not in ingesting.IMAGE_SUFFIXES | ingesting.VIDEO_SUFFIXES:
                continue
            if ingesting.wait_until_stable(path):
                report = ingestor.ingest_many(items([path]), workers)  # type: ignore[attr-defined, operator]
                for key in report.sent:
                    click.echo(f"sent {path} → {key}")
                for failed_path, reason in report.failed:
                    click.echo(f"failed: {failed_path}: {reason}", err=True)
    except KeyboardInterrupt:
        pass
    finally:
        observer.stop()
        observer.join()


@main.group()
def stack() -> None:
    """The local stack: Kafka, S3 (SeaweedFS), Dagster, viewer; state under IMGASSETS_HOME (.local/)."""


@stack.command()
@click.option("--demo/--no-demo", default=True, show_default=True, help="Ingest the demo photos (data/photos).")
@click.option("--viewer/--no-viewer", default=True, show_default=True, help="Build and start the viewer.")
def up(demo: bool, viewer: bool) -> None:
    """Start (or resume) every service; idempotent."""
    from imgassets.settings import PROJECT_ROOT
    from imgassets.stack import Stack, StackError, ensure_local_credentials

    try:
        settings = ensure_local_credentials()
        running = Stack(settings)
        running.up(with_viewer=viewer, log=click.echo)
    except (StackError, SettingsError, subprocess.CalledProcessError) as exc:
        _fail(str(exc))
    _print_status(running.status())
    if demo:
        click.echo("ingesting demo photos …")
        ctx = click.get_current_context()
        try:
            ctx.invoke(ingest, paths=(PROJECT_ROOT / "data" / "photos",), watch=False, max_size=None,
                       every_seconds=1.0, workers=4)
        except SystemExit:
            pass
    click.echo(
        f"\nDagster UI: {settings.dagster_url}   viewer: {settings.viewer_url}\n"
        "The sensor launches runs within seconds; watch them under Runs, detections under Assets."
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
@click.option("--images", "images_count", type=click.IntRange(10), default=1000, show_default=True,
              help="Images for the raw and end-to-end throughput phases.")
@click.option("--rate", type=click.FloatRange(0.1), help="Latency phase ingest rate (default: 60% of the measured end-to-end rate).")
@click.option("--duration", type=click.FloatRange(5), default=45, show_default=True, help="Latency phase seconds.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench-results"), show_default=True)
@click.option("--keep", is_flag=True, help="Leave the bench stack running afterwards.")
def bench(images_count: int, rate: float | None, duration: float, out: Path, keep: bool) -> None:
    """Measure detector vs end-to-end throughput, latency and memory on a dedicated local stack."""
    from imgassets import bench as benchmark
    from imgassets.stack import StackError, ensure_local_credentials

    try:
        ensure_local_credentials()
        result = benchmark.run(images_count, rate, duration, out, keep, log=click.echo)
    except (StackError, SettingsError, TimeoutError) as exc:
        _fail(str(exc))
    click.echo(json.dumps(result, indent=2))


def _settings():  # noqa: ANN202
    try:
        settings = get_settings()
        settings.require_s3_credentials()
        return settings
    except SettingsError as exc:
        _fail(str(exc))


if __name__ == "__main__":
    main()
