"""One Dagster instance template for every deployment: the local stack and compose differ only in what
IMGASSETS_DEPLOYMENT picks (storage, run launcher), and both renderings are valid instance configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from imgassets.cli.main import main
from imgassets.core.settings import PROJECT_ROOT, Deployment
from imgassets.stack import instance, services

INSTANCE_ENV = {
    "DAGSTER_MAX_CONCURRENT_RUNS": "3",
    "DAGSTER_PG_HOST": "db.example",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
}


def test_deployments_differ_only_in_storage_and_run_launcher() -> None:
    local, compose = (yaml.safe_load(instance.render(d)) for d in ("local", "compose"))
    assert {key for key in local.keys() | compose.keys() if local.get(key) != compose.get(key)} == {
        "storage",
        "run_launcher",
    }
    assert "storage" not in local and set(compose["storage"]) == {"postgres"}
    assert local["run_launcher"]["class"] == "LocalRunLauncher"
    assert compose["run_launcher"]["class"] == "DockerRunLauncher"


@pytest.mark.parametrize("deployment", ["local", "compose"])
def test_each_rendering_is_a_valid_instance(
    deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    instance.write(tmp_path, deployment)
    config, _ = dagster_instance_config(str(tmp_path))  # validates it against Dagster's instance schema
    assert config["run_retries"]["enabled"] and config["run_monitoring"]["enabled"]
    # A dead run's claim on the roll-up pool is released (else every later roll-up waits for it forever).
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
    if deployment == "local":  # compose's storage would connect to PostgreSQL (test_deploy.py does that)
        from dagster import DagsterInstance, QueuedRunCoordinator

        with DagsterInstance.from_config(str(tmp_path)) as loaded:
            assert isinstance(loaded.run_coordinator, QueuedRunCoordinator)
            assert loaded.run_coordinator.get_run_queue_config().max_concurrent_runs == 3
            assert type(loaded.run_launcher).__name__ == "LocalRunLauncher"
            # The asset daemon keeps Dagster's 30 s loop whatever the backfill daemon's (imgassets/stack/daemon.py).
            assert loaded.auto_materialize_minimum_interval_seconds == 30


def test_the_local_stack_and_the_code_image_use_the_template(tmp_path: Path) -> None:
    from imgassets.core.settings import load_settings
    from imgassets.defs.batch import HOUR_ROLLUP_POOL

    paths = services.Paths(tmp_path)
    settings = load_settings(_env_file=None, home=tmp_path, max_concurrent_runs=3)
    services.prepare_dagster(settings, paths)
    assert (paths.dagster_home / "dagster.yaml").read_text() == instance.render("local")
    # The hour roll-up pool has its limit of 1 in the instance's database.
    with services.dagster_instance(settings, paths) as loaded:
        assert loaded.event_log_storage.get_concurrency_info(HOUR_ROLLUP_POOL).slot_count == 1
    assert os.environ.get("DAGSTER_HOME") != str(paths.dagster_home)  # the environment is restored
    dockerfile = (PROJECT_ROOT / "docker" / "Dockerfile").read_text()
    assert "imgassets instance --deployment compose --dagster-home /opt/dagster/home" in dockerfile
    assert not (PROJECT_ROOT / "docker" / "dagster.yaml").exists()


def test_cli_renders_the_chosen_deployment(tmp_path: Path) -> None:
    printed = CliRunner().invoke(main, ["instance", "--deployment", "compose"], catch_exceptions=False)
    assert printed.exit_code == 0 and printed.stdout == instance.render("compose")
    written = CliRunner().invoke(main, ["instance", "--dagster-home", str(tmp_path)], catch_exceptions=False)
    assert written.exit_code == 0
    assert (tmp_path / "dagster.yaml").read_text() == instance.render("local")
