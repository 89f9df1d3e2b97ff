"""`imgassets bench`, `bench-queries`, `bench-steps` and `bench-volume`: the benchmarks (imgassets/devtools/)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from imgassets.cli.common import fail, s3_settings, settings_or_fail
from imgassets.core.settings import SettingsError


@click.command("bench-queries")
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
    from imgassets.devtools import query_bench

    figures = query_bench.run(settings_or_fail(), days, images_per_hour, repeats, busy_hour_images, log=click.echo)
    if out is not None:
        out.write_text(json.dumps(figures, indent=2, default=str))
        click.echo(f"figures → {out}")


@click.command("bench-steps")
@click.option(
    "--images",
    type=click.IntRange(1, 2_000_000),
    default=200_000,
    show_default=True,
    help="Images the busy hour already holds when its runs are measured.",
)
@click.option("--batch", type=click.IntRange(1, 10_000), default=100, show_default=True, help="Images per run.")
@click.option("--runs", type=click.IntRange(1, 100), default=7, show_default=True, help="Runs measured per point.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
def bench_steps(images: int, batch: int, runs: int, out: Path | None) -> None:
    """The per-run CPU of the roll-up and table steps at an hour's first image and after IMAGES of it, against the
    local S3 (a bucket of its own): append, then compact, keeps them flat."""
    from imgassets.devtools import step_bench

    settings = settings_or_fail()
    try:
        settings.require_s3_credentials()
    except SettingsError as exc:
        fail(str(exc))
    figures = step_bench.run(settings, images, batch, runs, log=click.echo)
    if out is not None:
        out.write_text(json.dumps(figures, indent=2))
        click.echo(f"figures → {out}")


@click.command()
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
    help="Drain phase: images announced while the sensor is stopped, then drained once it starts (default: 400; "
    "3000 with --detector none, whose drain is the orchestration's capacity).",
)
@click.option("--version", help="The detector version the bench's sensor uses (default: the active one), e.g. int8.")
@click.option(
    "--detector",
    type=click.Choice(["model", "none"]),
    default="model",
    show_default=True,
    help="none: the stack runs a zero-cost detector that finds nothing (not a detection result), so the drain of a "
    "backlog already in Kafka and S3 is what the orchestration carries, set "
    "against the model's raw rate measured first; end to end adds the uploader on the same cores.",
)
def bench(
    images_count: int,
    rate: float | None,
    duration: float,
    out: Path,
    keep: bool,
    drain_count: int | None,
    version: str | None,
    detector: str,
) -> None:
    """Measure detector vs end-to-end throughput, latency and memory on a dedicated local stack."""
    from imgassets.devtools import bench as benchmark
    from imgassets.stack import StackError, ensure_local_env

    try:
        ensure_local_env()
        if drain_count is None:
            drain_count = 3000 if detector == "none" else 400
        result = benchmark.run(
            images_count, rate, duration, out, keep, drain_count, log=click.echo, version=version, detector=detector
        )
    except (StackError, SettingsError, TimeoutError) as exc:
        fail(str(exc))
    click.echo(json.dumps(result, indent=2))


@click.command("bench-volume")
@click.option("--messages", type=click.IntRange(1, 1_000_000), default=10_000, show_default=True)
@click.option("--partitions", type=click.IntRange(1, 1000), default=12, show_default=True, help="Kafka partitions.")
@click.option("--max-ticks", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option(
    "--runs", type=click.IntRange(2, 1000), default=21, show_default=True, help="Runs measured (the first apart)."
)
@click.option("--images-per-run", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Also write the figures as JSON here.")
def bench_volume(
    messages: int, partitions: int, max_ticks: int, runs: int, images_per_run: int, out: Path | None
) -> None:
    """Dagster at volume: the Kafka sensor's ticks over MESSAGES waiting across PARTITIONS (a topic of its own),
    then RUNS sensor runs of the job (zero-cost detector, a bucket of its own) and the event-log rows and bytes each
    leaves, extrapolated. The runs are recorded in the Dagster instance of DAGSTER_HOME (table bytes when it is on
    PostgreSQL), else in a temporary one."""
    from dagster import DagsterInstance
    from dotenv import load_dotenv

    from imgassets.core.settings import env_file
    from imgassets.devtools import volume_bench

    settings = s3_settings()
    load_dotenv(env_file(), override=False)  # the resources read the S3 key pair from the environment
    with DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.local_temp() as instance:
        figures = volume_bench.run(
            settings, instance, messages, partitions, max_ticks, runs, images_per_run, log=click.echo
        )
    click.echo(json.dumps(figures, indent=2, default=str))
    if out is not None:
        out.write_text(json.dumps(figures, indent=2, default=str))
        click.echo(f"figures → {out}")
