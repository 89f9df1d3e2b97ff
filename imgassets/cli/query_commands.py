"""`imgassets query` (SQL over the hours' tables) and `imgassets serve-queries` (the viewer's query endpoint)."""

from __future__ import annotations

from pathlib import Path

import click

from imgassets.cli.common import fail, range_options, settings_or_fail
from imgassets.core.settings import SettingsError


@click.command("query")
@click.argument("sql")
@range_options
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
    from imgassets.reading import query as querying

    if output_format == "parquet" and output is None:
        fail("--format parquet writes a file: give --output")
    try:
        hours = querying.HourRange.parse(start, end, last)
        result = querying.query(sql, hours, settings_or_fail())
    except (querying.QueryError, querying.TablesUnavailable, SettingsError) as exc:
        fail(str(exc))
    querying.write(result, output_format, output)
    if output is not None:
        click.echo(f"{result.num_rows} rows → {output}", err=True)


@click.command("serve-queries")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), help="Default: IMGASSETS_QUERY_PORT.")
def serve_queries(host: str, port: int | None) -> None:
    """Serve the query endpoint the viewer's search and hour pages call (started by `imgassets stack up`)."""
    from imgassets.reading import server

    settings = settings_or_fail()
    try:
        server.serve(settings, host, port or settings.query_port)
    except SettingsError as exc:
        fail(str(exc))
