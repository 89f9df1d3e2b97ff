"""The Dagster instance config (`dagster.yaml`) of a deployment, rendered from the one template that every
deployment shares, so the local stack and production cannot drift apart."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from imgassets.settings import Deployment


def render(deployment: Deployment) -> str:
    """The instance config for `deployment` (its storage and run launcher; everything else is shared)."""
    templates = Environment(
        loader=PackageLoader("imgassets.stack", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    return templates.get_template("dagster.yaml.jinja").render(deployment=deployment)


def write(dagster_home: Path, deployment: Deployment) -> Path:
    """Writes `dagster_home/dagster.yaml` for `deployment`."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    path = dagster_home / "dagster.yaml"
    path.write_text(render(deployment))
    return path
