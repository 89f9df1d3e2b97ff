"""The production deployment: the compose file validates with the real Compose binary and keeps its rules, and
the Postgres-backed Dagster instance rendered for compose runs a sensor-driven materialization for real
(sensor daemon tick → run queue daemon → run in a subprocess, against the real Kafka, S3 and PostgreSQL).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from imgassets.core.settings import PROJECT_ROOT, Settings
from imgassets.stack import instance as dagster_instance
from imgassets_tests.containers import COMPOSE_FILE, compose_binary
from imgassets_tests.postgres import Postgres, compose_instance_home, running_postgres

ENV_EXAMPLE = PROJECT_ROOT / ".env.example"
WORKSPACE_YAML = PROJECT_ROOT / "docker" / "workspace.yaml"
PG_PORT = 25432
#: Services that run once and exit (others are long-running and must have a health check).
ONE_SHOT = {"config", "init"}


# --- docker compose (static) ------------------------------------------------------------------------------


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A project directory with `.env` = `.env.example`, so the real `.env` (local secrets) is never read."""
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    return tmp_path


def _compose(project_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMGASSETS_", "DAGSTER_", "COMPOSE_"))}
    return subprocess.run(
        [compose_binary(), "-f", str(COMPOSE_FILE), "--project-directory", str(project_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def _config(project_dir: Path) -> dict:
    result = _compose(project_dir, "--profile", "*", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_validates(project_dir: Path) -> None:
    result = _compose(project_dir, "config", "-q")
    assert result.returncode == 0, result.stderr
    services = set(_config(project_dir)["services"])
    assert {
        "kafka",
        "s3",
        "postgres",
        "init",
        "dagster-code",
        "dagster-webserver",
        "dagster-daemon",
        "viewer",
    } <= services


@pytest.mark.parametrize("variable", ["DAGSTER_PG_PASSWORD", "DOCKER_GID"])
def test_compose_refuses_to_start_without_required_settings(project_dir: Path, variable: str) -> None:
    env = project_dir / ".env"
    env.write_text(re.sub(rf"(?m)^{variable}=.*$", "", env.read_text()))
    result = _compose(project_dir, "config", "-q")
    assert result.returncode != 0 and variable in result.stderr


def test_remote_kafka_and_s3_profiles_drop_the_bundled_servers(project_dir: Path) -> None:
    env = project_dir / ".env"
    env.write_text(env.read_text().replace("COMPOSE_PROFILES=local-kafka,local-s3", "COMPOSE_PROFILES="))
    result = _compose(project_dir, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert "kafka" not in services and "s3" not in services
    assert services["init"]["depends_on"]["kafka"]["required"] is False


def test_compose_structure(project_dir: Path) -> None:
    config = _config(project_dir)
    services = config["services"]
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart", "no") in ("no", "on-failure:5"), name
            assert any(
                dep.get(name, {}).get("condition") == "service_completed_successfully"
                for dep in (s.get("depends_on", {}) for s in services.values())
            ), f"nothing waits for one-shot {name}"
        else:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
            assert service["restart"] == "unless-stopped", name
    # State lives in named volumes declared at the top level.
    declared = set(config["volumes"])
    for name in ("kafka", "s3", "postgres"):
        mounts = [v for v in services[name]["volumes"] if v["type"] == "volume"]
        assert mounts and all(v["source"] in declared for v in mounts), name
    # The run launcher (the instance rendered for compose) refers to the network and config volume by name.
    launcher = yaml.safe_load(dagster_instance.render("compose"))["run_launcher"]["config"]
    assert config["networks"]["imgassets"]["name"] == launcher["network"]
    assert set(launcher["container_kwargs"]["volumes"]) == {config["volumes"]["imgassets-config"]["name"]}
    # Webserver and daemon reach the code server the workspace names, on the port it serves.
    grpc = yaml.safe_load(WORKSPACE_YAML.read_text())["load_from"][0]["grpc_server"]
    code = services[grpc["host"]]["command"]
    assert code[code.index("-p") + 1] == str(grpc["port"]) and "imgassets.definitions" in code
    # Runs are launched in the code server's own image.
    assert services["dagster-code"]["environment"]["DAGSTER_CURRENT_IMAGE"] == services["dagster-code"]["image"]


def test_compose_file_holds_no_secrets() -> None:
    text = COMPOSE_FILE.read_text()
    for line in text.splitlines():
        match = re.match(r"\s*-?\s*\"?(\w*(PASSWORD|SECRET|TOKEN|ACCESS_KEY)\w*)\"?\s*[:=]\s*(.+)", line)
        if match:
            assert match.group(3).strip().startswith("${"), f"literal secret in docker-compose.yml: {line.strip()}"
    example = _env_values(ENV_EXAMPLE)
    for key, value in example.items():
        if re.search("PASSWORD|SECRET|ACCESS_KEY", key):
            assert "CHANGE_ME" in value, f"{key} in .env.example must be a placeholder"
            assert value not in text


def _env_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_env_example_documents_every_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    mentioned = {m.group(1) for line in lines if (m := re.match(r"#?\s*(IMGASSETS_\w+)=", line))}
    expected = {f"IMGASSETS_{field.upper()}" for field in Settings.model_fields}
    assert expected <= mentioned, f"missing from .env.example: {sorted(expected - mentioned)}"
    assert mentioned <= expected | {"IMGASSETS_IMAGE", "IMGASSETS_VIEWER_IMAGE"}, "unknown variables"

    # The example loads in the code image (IMGASSETS_DEPLOYMENT=compose) and shows the compose defaults, except
    # for the key pair it asks to choose.
    for key in [k for k in os.environ if k.startswith("IMGASSETS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("IMGASSETS_DEPLOYMENT", "compose")
    loaded = Settings(_env_file=ENV_EXAMPLE)
    defaults = Settings(_env_file=None)
    assert (defaults.s3_endpoint_url, defaults.kafka_bootstrap_servers) == ("http://s3:8333", "kafka:9092")
    for field in set(Settings.model_fields) - {"s3_access_key_id", "s3_secret_access_key"}:
        assert getattr(loaded, field) == getattr(defaults, field), field


def test_production_instance_config_is_valid(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.launcher import RunLauncher
    from dagster._serdes.config_class import ConfigurableClassData
    from dagster_docker import DockerRunLauncher

    for key in ("DAGSTER_PG_DB", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD"):
        monkeypatch.setenv(key, "dagster")
    monkeypatch.setenv("DAGSTER_PG_HOST", "db.example")
    monkeypatch.setenv("DAGSTER_PG_PORT", "5432")
    monkeypatch.setenv("DAGSTER_MAX_CONCURRENT_RUNS", "2")
    dagster_instance.write(tmp_path, "compose")
    config, _ = dagster_instance_config(str(tmp_path))
    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    # The launcher accepts its config (checked by dagster-docker itself; it only talks to Docker on launch).
    built = ConfigurableClassData(launcher["module"], launcher["class"], yaml.safe_dump(launcher["config"]))
    # rehydrate takes the abstract base, which mypy refuses for a `type[T]` parameter.
    assert isinstance(built.rehydrate(as_type=RunLauncher), DockerRunLauncher)  # type: ignore[type-abstract]
    # Run containers get the instance credentials (they open the run storage before importing any code).
    assert {f"DAGSTER_PG_{k}" for k in ("HOST", "PORT", "DB", "USER", "PASSWORD")} <= set(
        launcher["config"]["env_vars"]
    )
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_retries"]["enabled"] and config["run_monitoring"]["enabled"]
    assert config["telemetry"]["enabled"] is False


# --- PostgreSQL-backed Dagster, for real -------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL server on 127.0.0.1 with password authentication, like the compose one."""
    with running_postgres("127.0.0.1", PG_PORT) as server:
        yield server


@pytest.fixture
def production_instance(postgres: Postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The compose instance as rendered, except runs are subprocesses instead of containers (no Docker engine
    here)."""
    from dagster import DagsterInstance

    home = compose_instance_home(postgres, tmp_path / "dagster-home", monkeypatch)
    # A fresh schema per test: the tables are the ones Dagster creates on first use.
    for (table,) in postgres.sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
        postgres.sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    instance = DagsterInstance.from_config(str(home))
    yield instance
    instance.dispose()


@pytest.fixture
def code_location_env(deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The code location is configured as in production, by its environment: here this test's topics and bucket."""
    from imgassets.core.settings import get_settings

    for name, value in deployment.env().items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.integration
def test_sensor_driven_run_state_lives_in_postgres(
    production_instance,
    postgres: Postgres,
    topics,
    store,
    photos,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    deployment,
    code_location_env: None,
) -> None:
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import InstigatorState, SensorInstigatorData, TickStatus
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon
    from dagster._daemon.sensor import execute_sensor_iteration
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
    from dagster_shared.serdes import deserialize_value

    from imgassets.core import layout
    from imgassets.core.records import Summary
    from imgassets.defs.kafka_sensor import Cursor
    from imgassets_tests import helpers

    instance = production_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)

    report = deployment.ingest_folder(photos)
    assert len(report.sent) == 5
    partition = layout.parse_image_key(report.sent[0]).partition
    logger = logging.getLogger("test_deploy")
    # Dagster's code server injects `./.env` over the environment: run from an empty directory (as the image's
    # WORKDIR is), not from the repository, whose `.env` holds the dev stack's keys.
    workdir = tmp_path / "workdir"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    target = ModuleTarget("imgassets.definitions", None, str(workdir), "imgassets")

    with create_test_daemon_workspace_context(target, instance) as workspace:
        # What dagster-daemon does: a sensor tick queues the batch's run …
        list(execute_sensor_iteration(workspace, logger, None, None))
        (queued,) = instance.get_runs(RunsFilter(job_name="image_batch_job"))
        assert queued.status == DagsterRunStatus.QUEUED
        assert queued.tags["dagster/sensor_name"] == "kafka_image_sensor"
        assert queued.tags["dagster/partition"] == partition
        # … and the run queue starts it within the instance's limits (here as a subprocess).
        list(QueuedRunCoordinatorDaemon(interval_seconds=1).run_iteration(workspace))
        deadline = time.monotonic() + 600
        while not (run := instance.get_run_by_id(queued.run_id)).is_finished:
            assert time.monotonic() < deadline, f"run still {run.status}"
            time.sleep(1)
        assert run.status == DagsterRunStatus.SUCCESS, [
            e.message for e in instance.all_logs(run.run_id) if e.is_dagster_event and e.dagster_event.is_failure
        ]
        # A later tick finds nothing new: the cursor it resumes from is the stored one. (The tracks sensor may have
        # requested the hour's tracks by now: its runs are of their own job.)
        time.sleep(Settings().sensor_interval_seconds)
        list(execute_sensor_iteration(workspace, logger, None, None))
        assert len(instance.get_runs(RunsFilter(job_name="image_batch_job"))) == 1

    # The pipeline wrote its outputs to S3 …
    summary = store.get_record(layout.summary_key(partition), Summary)
    assert summary.image_count == 5 and summary.runs == [run.run_id]

    # … and everything Dagster knows is in PostgreSQL: read back through a new instance and with plain SQL.
    fresh = DagsterInstance.from_config(os.environ["DAGSTER_HOME"])
    try:
        stored_run = fresh.get_run_by_id(run.run_id)
        assert stored_run is not None and stored_run.status == DagsterRunStatus.SUCCESS
        for asset in ("raw_images", "detections", "detection_summary"):
            event = fresh.get_latest_materialization_event(AssetKey(asset))
            assert event is not None and event.run_id == run.run_id
            assert event.asset_materialization is not None and event.asset_materialization.partition == partition
        states = fresh.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        sensors = {state.instigator_name: state for state in states}
        # The run status sensors (failed and cancelled batches) and the tables' compaction sensor keep state too
        # (the last once it has ticked); the Kafka sensor's is checked here.
        assert {"kafka_image_sensor", "failed_batch_sensor", "canceled_batch_sensor"} <= set(sensors)
        state = sensors["kafka_image_sensor"]
        ticks = fresh.get_ticks(state.instigator_origin_id, state.selector_id)
        assert [t.status for t in ticks] == [TickStatus.SKIPPED, TickStatus.SUCCESS]
        assert ticks[1].run_ids == [run.run_id]
    finally:
        fresh.dispose()

    assert postgres.sql(f"SELECT status FROM runs WHERE run_id = '{run.run_id}'") == [["SUCCESS"]]
    materialized = postgres.sql(
        "SELECT asset_key, partition FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
        f"AND run_id = '{run.run_id}' ORDER BY asset_key"
    )
    assert materialized == [
        [f'["{a}"]', partition] for a in ("detection_summary", "detection_table", "detections", "raw_images")
    ]
    bodies = [
        deserialize_value(body, InstigatorState)
        for (body,) in postgres.sql("SELECT instigator_body FROM instigators WHERE instigator_type = 'SENSOR'")
    ]
    (stored,) = [state for state in bodies if state.instigator_name == "kafka_image_sensor"]
    assert isinstance(stored.instigator_data, SensorInstigatorData)
    cursor = Cursor.parse(stored.instigator_data.cursor)
    assert cursor.offsets == helpers.end_offsets(topics.images)
