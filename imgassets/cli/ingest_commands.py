"""`imgassets ingest`: images and videos uploaded and announced, once or watching folders."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from imgassets.cli.common import fail, s3_settings

if TYPE_CHECKING:  # the commands import their modules when they run, so `imgassets --help` stays fast
    from imgassets.ingest import announce, media


@click.command()
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

    from imgassets.core.kafka_io import make_producer, settings_client_config
    from imgassets.core.storage import ObjectStore
    from imgassets.ingest import announce, media

    settings = s3_settings()
    if source_name is not None:
        try:
            media.check_source_name(source_name)
        except ValueError as exc:
            fail(str(exc))
    if watch:
        not_folders = [str(p) for p in paths if not p.is_dir()]
        if not_folders:
            fail(f"--watch needs folders; not a folder: {', '.join(not_folders)}")
    else:
        try:
            files = media.discover(paths)
        except FileNotFoundError as exc:
            fail(str(exc))
    store = ObjectStore.from_settings(settings)
    try:
        producer = make_producer(settings_client_config(settings))
    except KafkaError as exc:
        fail(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}")
    ingestor = announce.Ingestor(store, producer, settings.kafka_topic, source_name)

    def items(found: Iterable[Path]) -> Iterator[media.Item]:
        return media.path_items(
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


def _print_report(report: announce.Report) -> None:
    click.echo(f"sent {len(report.sent)}, already ingested {len(report.duplicates)}, failed {len(report.failed)}")
    for path, reason in report.failed:
        click.echo(f"  failed: {path}: {reason}", err=True)


def _watch(
    paths: tuple[Path, ...],
    ingestor: announce.Ingestor,
    items: Callable[[Iterable[Path]], Iterator[media.Item]],
    workers: int,
) -> None:
    from imgassets.ingest import watch

    watcher = watch.Watcher(
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
