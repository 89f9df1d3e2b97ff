"""`imgassets instance` (a deployment's Dagster instance config) and `imgassets viewer-password` (the hash of the
viewer's login password)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imgassets.cli.common import fail, settings_or_fail


@click.command("viewer-password")
def viewer_password() -> None:
    """Print the hash of a password for the viewer's login: the value of IMGASSETS_VIEWER_PASSWORD_HASH
    (scrypt; docs/security.md). The password is asked twice on a terminal, or read from stdin's first line.

    \b
    imgassets viewer-password
    printf '%s\n' "$PASSWORD" | imgassets viewer-password
    """
    from imgassets.core.settings import hash_viewer_password

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 8:
        fail("the password must have at least 8 characters")
    click.echo(hash_viewer_password(password))


@click.command()
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

    from imgassets.core.settings import Deployment
    from imgassets.stack import instance as dagster_instance

    chosen = cast(Deployment, deployment) if deployment else settings_or_fail().deployment
    if dagster_home is None:
        click.echo(dagster_instance.render(chosen), nl=False)
    else:
        click.echo(f"wrote {dagster_instance.write(dagster_home, chosen)} ({chosen})", err=True)
