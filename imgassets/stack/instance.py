"""The Dagster instance config (`dagster.yaml`) of a deployment, rendered from the one template that every
deployment shares, so the local stack and production cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, StrictUndefined

from imgassets.core.settings import Deployment

if TYPE_CHECKING:
    from dagster import DagsterInstance


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


def ensure_pools(loaded: DagsterInstance) -> None:
    """Gives the hour roll-up pool its limit of 1 in the instance's database (Dagster keeps pool limits there;
    a pool without one is unlimited), unless an operator set another."""
    from imgassets.defs.batch import HOUR_ROLLUP_POOL

    storage = loaded.event_log_storage
    if HOUR_ROLLUP_POOL not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(HOUR_ROLLUP_POOL, 1)
