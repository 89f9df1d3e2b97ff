"""`imgassets bench-volume` run small against the real broker, the real S3 server and a Dagster instance on a real
PostgreSQL (the production storage): the sensor reads every message of every partition, and each run's rows are
counted alike from Dagster's API and from the tables. Timings are printed, never asserted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from imgassets_tests.conftest import FIGURES, PORT_OFFSET
from imgassets_tests.helpers import Deployment
from imgassets_tests.postgres import compose_instance_home, running_postgres

pytestmark = pytest.mark.integration

#: Not test_deploy's port: the two modules may run side by side.
PG_PORT = 25532 + PORT_OFFSET
MESSAGES, PARTITIONS, RUNS, IMAGES_PER_RUN = 600, 12, 3, 20


@pytest.fixture
def postgres_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """DAGSTER_HOME of the compose instance on a private PostgreSQL (runs launched as subprocesses: no Docker)."""
    with running_postgres("127.0.0.1", PG_PORT) as server:
        yield compose_instance_home(server, tmp_path / "dagster-home", monkeypatch)


def test_bench_volume_measures_the_sensor_and_the_event_log_with_real_parts(
    kafka_broker: str, s3_server: str, postgres_home: Path, deployment: Deployment, tmp_path: Path
) -> None:
    out = tmp_path / "volume.json"
    result = deployment.cli(
        "bench-volume",
        *("--messages", str(MESSAGES), "--partitions", str(PARTITIONS)),
        *("--runs", str(RUNS), "--images-per-run", str(IMAGES_PER_RUN), "--out", str(out)),
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    printed = result.output.split("\n{\n")[0].splitlines()  # the figures' lines, before their JSON
    FIGURES.extend(f"bench-volume (small): {line.strip()}" for line in printed if line.startswith("  "))

    sensor = figures["sensor"]
    assert sensor["idle_tick"]["skipped"] and sensor["idle_tick"]["messages"] == 0
    first, *rest = sensor["ticks"]
    # One tick reads the whole backlog (under IMGASSETS_SENSOR_MAX_MESSAGES) and requests its runs.
    assert first["messages"] == first["images"] == MESSAGES and first["run_requests"] >= 1
    assert first["result_bytes"] > MESSAGES * 100  # the batches travel in the run requests
    assert [tick["skipped"] for tick in rest] == ["no new image messages"] and rest[0]["messages"] == 0
    assert sensor["consumed"] == MESSAGES and sensor["backlog_consumed"]
    # The cursor covers every partition (the image keys spread the messages) and ends at the last offsets.
    offsets = json.loads(sensor["cursor"])["offsets"]
    assert sensor["cursor_partitions"] == PARTITIONS == len(offsets) and all(o > 0 for o in offsets.values())
    assert sum(offsets.values()) == MESSAGES and first["cursor_bytes"] == len(sensor["cursor"])

    events = figures["events"]
    assert events["storage"] == "PostgresEventLogStorage" and events["runs"] == RUNS
    per_run = events["per_run"]
    by_type = {name: rows for name, (rows, _) in per_run["events_by_type"].items()}
    assert per_run["images"] == IMAGES_PER_RUN and per_run["event_bytes"] > per_run["event_rows"] > 0
    assert by_type["ASSET_MATERIALIZATION"] == by_type["ASSET_MATERIALIZATION_PLANNED"] >= 4
    assert by_type["RUN_START"] == by_type["RUN_SUCCESS"] == 1
    # The same rows counted in PostgreSQL's tables.
    tables = events["tables_per_run"]["tables"]
    assert tables["event_logs"]["rows"] == per_run["event_rows"]
    assert tables["runs"]["rows"] == 1 and tables["run_tags"]["rows"] >= events["first_run"]["tags"]
    assert tables["asset_check_executions"]["rows"] == by_type["ASSET_CHECK_EVALUATION"]

    # The retention's purge: every run deleted but those holding the latest materializations, with their rows.
    retention = events["retention"]
    kept, left = retention["kept"], retention["rows_after_purge"]
    assert retention["runs"] == RUNS and retention["deleted"] == RUNS - len(kept) and 1 <= len(kept) < RUNS
    assert left["runs"] == len(kept) and left["event_logs"] == retention["kept_event_rows"]
    assert left["asset_check_executions"] == len(kept) * by_type["ASSET_CHECK_EVALUATION"]
    # A second wave of as many runs, measured after it (its bytes are printed, never asserted).
    assert retention["second_wave_runs"] == RUNS
    assert retention["second_wave_per_run"]["tables"]["runs"]["rows"] == 1
    assert events["tables_per_run"]["total"]["bytes"] > 0

    million = figures["extrapolated"]["per_million_images"]
    assert million["runs"] == 1_000_000 // IMAGES_PER_RUN
    assert million["event_rows"] == round(per_run["event_rows"] * million["runs"])
