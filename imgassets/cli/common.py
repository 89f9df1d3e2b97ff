"""What the commands share: failing with a clear message, the settings they need, and the hour-range options."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import click

from imgassets.core.settings import Settings, SettingsError, get_settings


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def settings_or_fail() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        fail(str(exc))


def range_options(command: Callable[..., None]) -> Callable[..., None]:
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


def s3_settings() -> Settings:
    try:
        settings = get_settings()
        settings.require_s3_credentials()
        return settings
    except SettingsError as exc:
        fail(str(exc))
