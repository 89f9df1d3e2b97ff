"""Run retention (imgassets/defs/retention.py) on real Dagster instances: SQLite (the local stack's storage) and
PostgreSQL (compose's and Kubernetes'). A tiny partitioned asset with a check stands in for the pipeline's: the
purge is generic over asset keys. Runs are made, then purged with a cutoff after them, so no clock is faked."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

from imgassets.defs.retention import RETAINED, RETAINED_TAG, PurgeReport, purge_finished_runs
from imgassets_tests.conftest import FIGURES, PORT_OFFSET
from imgassets_tests.helpers import Deployment
from imgassets_tests.postgres import Postgres, running_postgres

PARTITIONS = dg.StaticPartitionsDefinition(["a", "b", "c", "d"])
KEY = AssetKey("counted")
CHECK = dg.AssetCheckKey(KEY, "counted_is_positive")
PG_PORT = 25436 + PORT_OFFSET


@dg.asset(partitions_def=PARTITIONS, check_specs=[dg.AssetCheckSpec("counted_is_positive", asset="counted")])
def counted(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    if context.run.tags.get("fail"):
        raise RuntimeError("this run fails")
    return dg.MaterializeResult(check_results=[dg.AssetCheckResult(passed=True)])


@dg.op
def no_asset() -> None:
    pass


@dg.job
def no_asset_job() -> None:
    no_asset()


def _materialize(instance: DagsterInstance, partition: str, fail: bool = False) -> str:
    result = dg.materialize(
        [counted],
        partition_key=partition,
        instance=instance,
        tags={"fail": "yes"} if fail else {},
        raise_on_error=False,
    )
    assert result.success is not fail
    return result.run_id


def _purge(instance: DagsterInstance, cutoff: datetime, max_runs: int = 1000, batch_size: int = 2) -> PurgeReport:
    return purge_finished_runs(
        instance, cutoff, max_runs=max_runs, batch_size=batch_size, partitions_defs={KEY: PARTITIONS}
    )


def _cutoff() -> datetime:
    """A moment after every run made so far (the storages keep timestamps to the microsecond or second)."""
    time.sleep(1.1)
    moment = datetime.now(UTC)
    time.sleep(1.1)
    return moment


def _check_run_ids(instance: DagsterInstance) -> set[str]:
    history = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=1000)
    return {record.run_id for record in history}


def _index_rows(instance: DagsterInstance, run_ids: list[str]) -> int:
    """The runs' rows in the event log's index (on SQLite, each run's own file holds the rest)."""
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable as events
    from sqlalchemy import func, select

    with instance.event_log_storage.index_connection() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).where(events.c.run_id.in_(run_ids))).scalar_one())


def _exists(instance: DagsterInstance, run_id: str) -> bool:
    return instance.get_run_by_id(run_id) is not None


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _scenario(instance: DagsterInstance) -> dict[str, str]:
    """Runs to be older than the cutoff: three of partition a, two of b then a failed one, one without assets, one
    still running."""
    runs = {f"a{i}": _materialize(instance, "a") for i in (1, 2, 3)}
    runs |= {f"b{i}": _materialize(instance, "b") for i in (1, 2)}
    runs["b_failed"] = _materialize(instance, "b", fail=True)
    runs["no_asset"] = no_asset_job.execute_in_process(instance=instance).run_id
    runs["running"] = instance.create_run_for_job(no_asset_job, status=DagsterRunStatus.STARTED).run_id
    return runs


def test_purge_keeps_each_partitions_latest_materialization(instance: DagsterInstance) -> None:
    runs = _scenario(instance)
    cutoff = _cutoff()
    runs["c_young"] = _materialize(instance, "c")
    events_before = {name: len(instance.all_logs(run_id)) for name, run_id in runs.items()}
    deleted = {"a1", "a2", "b1", "b_failed", "no_asset"}
    assert _index_rows(instance, [runs[name] for name in deleted]) > 0

    report = _purge(instance, cutoff)

    assert set(report.deleted_ids) == {runs[name] for name in deleted}
    assert (report.deleted, report.retained, report.failed, report.leftovers) == (5, 2, 0, 0)
    assert report.complete
    for name, run_id in runs.items():
        assert _exists(instance, run_id) is (name not in deleted), name
    # A deleted run's events are gone (every row, in the index and its own file) and so are its check results.
    assert _index_rows(instance, [runs[name] for name in deleted]) == 0
    for name in deleted:
        assert not Path(instance.event_log_storage.path_for_shard(runs[name])).exists(), name  # type: ignore[attr-defined]
    assert _check_run_ids(instance) == {runs["a3"], runs["b2"], runs["c_young"]}
    assert {name: len(instance.all_logs(run_id)) for name, run_id in runs.items() if name not in deleted} == {
        name: count for name, count in events_before.items() if name not in deleted
    }
    # The runs holding the latest materializations stay, tagged; the run still going and the young run untouched.
    for name in ("a3", "b2"):
        assert instance.get_run_by_id(runs[name]).tags[RETAINED_TAG] == RETAINED  # type: ignore[union-attr]
    assert instance.get_run_by_id(runs["running"]).status == DagsterRunStatus.STARTED  # type: ignore[union-attr]
    assert RETAINED_TAG not in instance.get_run_by_id(runs["c_young"]).tags  # type: ignore[union-attr]
    # Every materialized partition still is, each linked to its latest run, and b's failed latest attempt (folded
    # into the status cache before its run went) still shows.
    assert instance.get_materialized_partitions(KEY) == {"a", "b", "c"}
    latest = {record.partition_key: record.run_id for record in instance.fetch_materializations(KEY, limit=100).records}
    assert latest == {"a": runs["a3"], "b": runs["b2"], "c": runs["c_young"]}
    status = instance.get_status_by_partition(KEY, ["a", "b", "c", "d"], PARTITIONS)
    assert status == {
        "a": dg.AssetPartitionStatus.MATERIALIZED,
        "b": dg.AssetPartitionStatus.FAILED,
        "c": dg.AssetPartitionStatus.MATERIALIZED,
        "d": None,
    }

    # The kept runs are not looked at again within a retention period …
    again = _purge(instance, cutoff)
    assert (again.examined, again.deleted, again.complete) == (0, 0, True)
    # … and go once a newer run has replaced their materialization.
    runs["a_new"] = _materialize(instance, "a")
    later = _purge(instance, _cutoff())
    assert later.deleted_ids == [runs["a3"]]
    assert {_exists(instance, runs[name]) for name in ("b2", "c_young", "a_new", "running")} == {True}


def test_purge_stops_at_its_limit_and_the_next_tick_goes_on(instance: DagsterInstance) -> None:
    old = [_materialize(instance, "a") for _ in range(5)]
    cutoff = _cutoff()

    first = _purge(instance, cutoff, max_runs=2, batch_size=10)
    assert (first.deleted_ids, first.complete) == (old[:2], False)
    second = _purge(instance, cutoff, max_runs=2, batch_size=10)
    assert (second.deleted_ids, second.complete) == (old[2:4], False)
    third = _purge(instance, cutoff, max_runs=2, batch_size=10)
    # The last one holds partition a's latest materialization.
    assert (third.deleted_ids, third.retained, third.complete) == ([], 1, True)


def test_one_run_that_cannot_be_deleted_costs_only_itself(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = [_materialize(instance, partition) for partition in "aabb"]
    cutoff = _cutoff()
    delete_run = instance.delete_run

    def failing(run_id: str) -> None:
        if run_id == old[0]:
            raise OSError("disk on fire")
        delete_run(run_id)

    monkeypatch.setattr(instance, "delete_run", failing)
    lines: list[str] = []
    report = purge_finished_runs(
        instance, cutoff, max_runs=100, batch_size=100, partitions_defs={KEY: PARTITIONS}, log=lines.append
    )
    assert (report.deleted_ids, report.failed, report.retained) == ([old[2]], 1, 2)
    assert any(old[0] in line and "disk on fire" in line for line in lines)
    assert _exists(instance, old[0])


def test_runs_of_a_backfill_in_progress_are_left_alone(instance: DagsterInstance) -> None:
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill

    backfill = PartitionBackfill(
        backfill_id="bf1",
        status=BulkActionStatus.REQUESTED,
        from_failure=False,
        tags={},
        backfill_timestamp=time.time(),
        partition_set_origin=None,
        partition_names=None,
        asset_selection=[KEY],
        serialized_asset_backfill_data=None,
        asset_backfill_data=None,
    )
    instance.add_backfill(backfill)
    in_backfill = dg.materialize([counted], partition_key="a", instance=instance, tags={"dagster/backfill": "bf1"})
    alone = _materialize(instance, "a")
    _materialize(instance, "a")
    report = _purge(instance, _cutoff())
    assert (report.deleted_ids, report.skipped) == ([alone], 1)
    assert _exists(instance, in_backfill.run_id)


def _age(instance: DagsterInstance, run_ids: list[str], days: float) -> None:
    """Dates runs `days` back (their create and update times, UTC as stored), for the job, which reads the clock."""
    from dagster._core.storage.runs.schema import RunsTable

    back = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(
            RunsTable.update()
            .where(RunsTable.c.run_id.in_(run_ids))
            .values(create_timestamp=back, update_timestamp=back)
        )


def test_the_code_locations_schedule_and_job_purge(instance: DagsterInstance, deployment: Deployment) -> None:
    from imgassets.definitions import build_definitions

    deployment = deployment.with_values(run_retention_days=1)
    defs = build_definitions(deployment.settings)
    schedule = defs.get_schedule_def("purge_runs_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "23 * * * *"
    # Closed within the test: a schedule context left to the garbage collector resets Dagster's current state
    # storage to this test's instance, long gone by then.
    with dg.build_schedule_context(instance=instance, resources={"pipeline": deployment.pipeline()}) as context:
        (request,) = schedule.evaluate_tick(context).run_requests or []

        # The run it requests: runs two days old go, but the latest materialization's; younger ones stay.
        job = defs.get_job_def("purge_runs_job")
        old = [_materialize(instance, "a") for _ in range(3)]
        _age(instance, old, days=2)
        young = _materialize(instance, "b")
        result = job.execute_in_process(instance=instance, run_config=request.run_config, tags=request.tags)
        assert result.success
        assert [_exists(instance, run_id) for run_id in [*old, young]] == [False, False, True, True]
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
        assert any("(IMGASSETS_RUN_RETENTION_DAYS=1)" in message for message in messages), messages
        assert any(message.startswith("done: 3 finished runs looked at: 2 deleted, 1 kept") for message in messages)

        # No second purge while one is going …
        going = instance.create_run_for_job(job, status=DagsterRunStatus.STARTED)
        assert schedule.evaluate_tick(context).skip_message == "the previous purge has not finished"
        instance.report_run_canceled(going)

    # … and none at all with -1.
    keep = deployment.with_values(run_retention_days=-1)
    with dg.build_schedule_context(instance=instance, resources={"pipeline": keep.pipeline()}) as forever:
        skipped = build_definitions(keep.settings).get_schedule_def("purge_runs_schedule").evaluate_tick(forever)
    assert skipped.skip_message == "IMGASSETS_RUN_RETENTION_DAYS=-1: every run is kept"


# --- PostgreSQL, and what a run costs in storage -----------------------------------------------------------

#: The tables a run has rows in (run_tags: its tags; asset_event_tags: tags of its asset events, none here).
RUN_TABLES = ("runs", "run_tags", "event_logs", "asset_check_executions")


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with running_postgres("127.0.0.1", PG_PORT) as server:
        yield server


def _rows_and_bytes(postgres: Postgres, table: str, run_ids: list[str]) -> tuple[int, int]:
    """The runs' rows in `table` and their size as stored (PostgreSQL's pg_column_size of each row, no indexes)."""
    listed = ",".join(f"'{run_id}'" for run_id in run_ids)
    ((rows, size),) = postgres.sql(
        f"SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE run_id IN ({listed})"
    )
    return int(rows), int(size)


def test_purge_on_postgres(postgres: Postgres) -> None:
    overrides = {
        "storage": {
            "postgres": {
                "postgres_db": {
                    "hostname": postgres.host,
                    "port": postgres.port,
                    "db_name": postgres.database,
                    "username": postgres.user,
                    "password": postgres.password,
                    # As the instance template says: dagster-postgres ships psycopg2.
                    "scheme": "postgresql+psycopg2",
                }
            }
        }
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        old = [_materialize(instance, partition) for partition in "ab" * 10]
        cutoff = _cutoff()
        before = {table: _rows_and_bytes(postgres, table, old) for table in RUN_TABLES}
        assert before["asset_check_executions"][0] == len(old)

        started = time.perf_counter()
        report = _purge(instance, cutoff, batch_size=7)
        seconds = time.perf_counter() - started

        deleted, kept = old[:-2], old[-2:]
        assert report.deleted_ids == deleted and report.retained == 2
        for table in RUN_TABLES:
            assert _rows_and_bytes(postgres, table, deleted) == (0, 0), table
            assert _rows_and_bytes(postgres, table, kept)[0] > 0, table
        assert instance.get_materialized_partitions(KEY) == {"a", "b"}
        assert _check_run_ids(instance) == set(kept)
    per_run = ", ".join(
        f"{table} {rows / len(old):.0f} rows {size / len(old) / 1024:.1f} KiB" for table, (rows, size) in before.items()
    )
    FIGURES.append(
        f"retention (PostgreSQL), per run of a one-asset, one-check job: {per_run}; "
        f"purge {seconds / len(deleted) * 1000:.0f} ms per deleted run"
    )


def test_what_a_run_leaves_on_sqlite(instance: DagsterInstance) -> None:
    """The local stack's storage: the purge removes a run's own event file, its compute logs and its tags (SQLite
    does not enforce the foreign key that would)."""
    from dagster._core.storage.runs.schema import RunTagsTable

    old = [_materialize(instance, "a") for _ in range(3)]
    cutoff = _cutoff()
    shard = Path(instance.event_log_storage.path_for_shard(old[0]))  # type: ignore[attr-defined]
    shard_bytes = shard.stat().st_size
    compute_logs = Path(instance.root_directory, "storage", old[0], "compute_logs")
    assert any(compute_logs.iterdir())
    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
        tags = len(conn.execute(RunTagsTable.select().where(RunTagsTable.c.run_id == old[0])).fetchall())
    started = time.perf_counter()
    _purge(instance, cutoff)
    seconds = time.perf_counter() - started
    with instance.run_storage.connect() as conn:  # type: ignore[attr-defined]
        left = conn.execute(RunTagsTable.select().where(RunTagsTable.c.run_id.in_(old[:2]))).fetchall()
    assert tags > 0 and left == [] and not shard.exists() and not compute_logs.exists()
    FIGURES.append(
        f"retention (SQLite): a run's own event file {shard_bytes // 1024} KiB and {tags} tag rows, removed by the "
        f"purge ({seconds / 2 * 1000:.0f} ms per deleted run)"
    )
