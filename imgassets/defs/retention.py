"""Run retention: the Dagster instance keeps finished runs for IMGASSETS_RUN_RETENTION_DAYS, then an hourly job
deletes them with their event logs, so a year of sensor runs (one every few seconds) does not fill its database.
Dagster 1.13 purges old sensor ticks itself (`retention:` in the instance), but never runs.

What is never deleted: a run that has not finished (queued, starting, in progress, cancelling), the purge's own
run, a run of a backfill still in progress, and a run holding the latest materialization of an (asset,
partition) or the latest run of an asset, so Dagster's UI still links each materialized hour to the run that
wrote it. Such a run is tagged `imgassets/retained`; the tag moves the run's update time, so it is looked at again
only one retention period later (and deleted then if a newer materialization has replaced it). docs/deployment.md
("Retention") has the storage bound.
"""

import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    PartitionsDefinition,
    RunsFilter,
)

from imgassets.defs.resource_types import PipelineResource

#: Runs that have ended for good: only these are ever deleted.
FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
#: A purge in one of these: the schedule waits for it (run monitoring ends a run whose worker died).
_BUSY = [DagsterRunStatus.QUEUED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
#: IMGASSETS_RUN_RETENTION_DAYS that keeps every run.
KEEP_FOREVER = -1
#: On a run older than the retention that is kept: why (its value). Setting it also sets the run's update time.
RETAINED_TAG = "imgassets/retained"
RETAINED = "latest materialization or run of an asset"
BACKFILL_TAG = "dagster/backfill"
JOB_NAME = "purge_runs_job"


@dataclass
class PurgeReport:
    """What one purge did, counted per run."""

    examined: int = 0
    deleted: int = 0
    #: Kept: the latest materialization of an (asset, partition), or an asset's latest run.
    retained: int = 0
    #: Left for a later tick: the purge's own run, runs of a backfill in progress.
    skipped: int = 0
    #: Could not be deleted (logged); tried again at the next tick.
    failed: int = 0
    #: Deleted, but some of what belongs to it (check results, logs, its event file) could not be (logged).
    leftovers: int = 0
    #: No run older than the cutoff was left to look at (false: the tick stopped at its limit).
    complete: bool = False
    deleted_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.examined} finished runs looked at: {self.deleted} deleted, {self.retained} kept (latest "
            f"materialization), {self.skipped} skipped, {self.failed} failed"
            + (f", {self.leftovers} with leftovers" if self.leftovers else "")
        )


@dataclass
class _RunAssets:
    """What a run wrote that matters here: its materializations and the asset checks it planned."""

    materialized: set[tuple[AssetKey, str | None]] = field(default_factory=set)
    checks: set[AssetCheckKey] = field(default_factory=set)


def purge_finished_runs(
    instance: DagsterInstance,
    cutoff: datetime,
    *,
    max_runs: int,
    batch_size: int,
    partitions_defs: Mapping[AssetKey, PartitionsDefinition],
    current_run_id: str | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> PurgeReport:
    """Deletes up to `max_runs` finished runs created and last updated before `cutoff` (time zone aware), oldest
    first, in batches of `batch_size`. `partitions_defs`: the partitioned assets whose partition status Dagster
    caches; each cache is brought up to date first, so the failures it shows outlive the runs they come from."""
    report = PurgeReport()
    cutoff = cutoff.astimezone(UTC)  # the run storage compares it with its UTC timestamps, time zone dropped
    refresh_partition_status(instance, partitions_defs)
    protected = _assets_latest_runs(instance)
    backfills = _active_backfills(instance)
    cursor: str | None = None
    while report.deleted < max_runs:
        page = instance.get_run_records(
            filters=RunsFilter(statuses=FINISHED, created_before=cutoff, updated_before=cutoff),
            limit=min(batch_size, max_runs - report.deleted),
            ascending=True,
            cursor=cursor,
        )
        if not page:
            report.complete = True
            break
        runs = [record.dagster_run for record in page]
        survivors = _purge_batch(instance, runs, protected, backfills, current_run_id, report, log)
        # The next page starts after the last run left standing (a deleted run can no longer be a cursor).
        cursor = survivors[-1] if survivors else cursor
        log(report.summary())
    return report


def _purge_batch(
    instance: DagsterInstance,
    runs: list[DagsterRun],
    protected: set[str],
    backfills: set[str],
    current_run_id: str | None,
    report: PurgeReport,
    log: Callable[[str], None],
) -> list[str]:
    """Deletes the batch's runs that may go; returns the ids of those left, in order. Whatever goes wrong with one
    run (reading its events, tagging, deleting) costs only that run: it is logged, counted and left."""
    report.examined += len(runs)
    candidates = [run for run in runs if run.run_id != current_run_id and run.tags.get(BACKFILL_TAG) not in backfills]
    report.skipped += len(runs) - len(candidates)
    assets: dict[str, _RunAssets] = {}
    for run in candidates:
        try:
            assets[run.run_id] = _run_assets(instance, run.run_id)
        except Exception as exc:  # without its events, whether it holds a latest materialization is unknown
            report.failed += 1
            log(f"run {run.run_id}: its asset events could not be read, left: {type(exc).__name__}: {exc}")
    holders = protected | _latest_materialization_runs(instance, assets.values())
    gone = set()
    for run_id, written in assets.items():
        try:
            if run_id in holders:
                instance.add_run_tags(run_id, {RETAINED_TAG: RETAINED})
                report.retained += 1
                continue
            instance.delete_run(run_id)
        except Exception as exc:
            report.failed += 1
            action = "tagged" if run_id in holders else "deleted"
            log(f"run {run_id} could not be {action}: {type(exc).__name__}: {exc}")
            continue
        gone.add(run_id)
        report.deleted += 1
        report.deleted_ids.append(run_id)
        left = delete_run_leftovers(instance, run_id, written.checks)
        if left:
            report.leftovers += 1
            log(f"run {run_id} deleted, but not its " + "; ".join(left))
    return [run.run_id for run in runs if run.run_id not in gone]


def refresh_partition_status(
    instance: DagsterInstance, partitions_defs: Mapping[AssetKey, PartitionsDefinition]
) -> None:
    """Brings Dagster's cached partition status of each asset up to date, as its UI would: the failed partitions
    it records come from the runs' events, which a purge deletes."""
    from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

    for key, partitions_def in partitions_defs.items():
        get_and_update_asset_status_cache_value(instance, key, partitions_def)


def _assets_latest_runs(instance: DagsterInstance) -> set[str]:
    """Each asset's latest run and the run of its latest materialization (the asset pages link both)."""
    runs = set()
    for record in instance.get_asset_records():
        entry = record.asset_entry
        if entry.last_materialization_record is not None:
            runs.add(entry.last_materialization_record.run_id)
        if entry.last_run_id:
            runs.add(entry.last_run_id)
    return runs


def _active_backfills(instance: DagsterInstance) -> set[str]:
    """Backfills still running: they read their runs' outcomes from those runs."""
    from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES, BulkActionsFilter, BulkActionStatus

    unfinished = [status for status in BulkActionStatus if status not in BULK_ACTION_TERMINAL_STATUSES]
    return {backfill.backfill_id for backfill in instance.get_backfills(filters=BulkActionsFilter(statuses=unfinished))}


def _run_assets(instance: DagsterInstance, run_id: str) -> _RunAssets:
    found = _RunAssets()
    wanted = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED}
    for record in instance.get_records_for_run(run_id, of_type=wanted).records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION and record.asset_key is not None:
            found.materialized.add((record.asset_key, record.partition_key))
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
            found.checks.add(event.asset_check_planned_data.asset_check_key)
    return found


def _latest_materialization_runs(instance: DagsterInstance, runs: Iterable[_RunAssets]) -> set[str]:
    """The runs holding the latest materialization of a partition that one of `runs` materialized (looked up in
    the index by storage id, which on SQLite differs from the id in a run's own event file)."""
    partitions: dict[AssetKey, set[str]] = {}
    for run in runs:
        for key, partition in run.materialized:
            if partition is not None:  # an unpartitioned asset's latest is its asset record's
                partitions.setdefault(key, set()).add(partition)
    holders: set[str] = set()
    for key, wanted in partitions.items():
        latest = instance.get_latest_storage_id_by_partition(key, DagsterEventType.ASSET_MATERIALIZATION, wanted)
        ids = sorted(latest.values())
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            records = instance.fetch_materializations(
                AssetRecordsFilter(asset_key=key, storage_ids=chunk), limit=len(chunk)
            ).records
            holders.update(record.run_id for record in records)
    return holders


def delete_run_leftovers(instance: DagsterInstance, run_id: str, checks: Iterable[AssetCheckKey]) -> list[str]:
    """Removes what `instance.delete_run` leaves of a deleted run; names what could not be removed."""
    steps: list[tuple[str, Callable[[], None]]] = [
        ("asset check results", lambda: _delete_check_executions(instance, run_id, checks)),
        ("run tags", lambda: _delete_run_tags(instance, run_id)),
        ("event log file", lambda: _delete_event_log_file(instance, run_id)),
        ("compute logs", lambda: instance.compute_log_manager.delete_logs(prefix=[run_id])),
    ]
    left = []
    for name, step in steps:
        try:
            step()
        except Exception as exc:
            left.append(f"{name} ({type(exc).__name__}: {exc})")
    return left


def _delete_check_executions(instance: DagsterInstance, run_id: str, checks: Iterable[AssetCheckKey]) -> None:
    """The run's rows of `asset_check_executions`, which `delete_run` leaves (no Dagster API deletes them per run):
    deleted by the table's unique key (asset, check, run), Dagster 1.13's schema."""
    from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from sqlalchemy import and_

    storage = instance.event_log_storage
    checks = list(checks)
    if not checks or not isinstance(storage, SqlEventLogStorage):
        return
    table = AssetCheckExecutionsTable
    with storage.index_connection() as conn:
        for check in checks:
            conn.execute(
                table.delete().where(
                    and_(
                        table.c.asset_key == check.asset_key.to_string(),
                        table.c.check_name == check.name,
                        table.c.run_id == run_id,
                    )
                )
            )


def _delete_run_tags(instance: DagsterInstance, run_id: str) -> None:
    """SQLite does not enforce the foreign key that deletes a run's tags with it (PostgreSQL does)."""
    from dagster._core.storage.runs.schema import RunTagsTable
    from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage

    storage = instance.run_storage
    if isinstance(storage, SqliteRunStorage):
        with storage.connect() as conn:
            conn.execute(RunTagsTable.delete().where(RunTagsTable.c.run_id == run_id))


def _delete_event_log_file(instance: DagsterInstance, run_id: str) -> None:
    """SQLite keeps each run's events in a file of its own (164–196 KiB a run on the local stack), which deleting
    its rows leaves at full size. A process that had opened it and reads the deleted run's events again gets "no
    such table" (Dagster's UI does not: it finds no run first)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    storage = instance.event_log_storage
    if isinstance(storage, SqliteEventLogStorage):
        path = storage.path_for_shard(run_id)
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.remove(path + suffix)
        # Forgotten as set up: were it opened again, this process would create its tables instead of failing.
        getattr(storage, "_initialized_dbs", set()).discard(run_id)


class PurgeConfig(dg.Config):
    #: Runs deleted at most by one run of the job; the rest wait for the next tick (an hour later).
    max_runs: int = 10_000
    #: Runs looked at per batch: one query for the runs, one per run for its asset events.
    batch_size: int = 1_000


def partitioned(assets: Iterable[dg.AssetsDefinition]) -> dict[AssetKey, PartitionsDefinition]:
    """The partitions of each partitioned asset among `assets` (the status caches the purge refreshes)."""
    return {key: asset.partitions_def for asset in assets if asset.partitions_def is not None for key in asset.keys}


def purge_runs_job(partitions_defs: Mapping[AssetKey, PartitionsDefinition]) -> dg.JobDefinition:
    """The purge, refreshing the partition status of the assets in `partitions_defs` (the code location's)."""

    @dg.op(
        name="purge_runs",
        description="Deletes finished runs older than IMGASSETS_RUN_RETENTION_DAYS with their event logs, oldest "
        "first, keeping the runs that hold an asset partition's latest materialization.",
    )
    def purge(context: dg.OpExecutionContext, config: PurgeConfig, pipeline: PipelineResource) -> None:
        days = pipeline.run_retention_days
        if days == KEEP_FOREVER:
            context.log.info("IMGASSETS_RUN_RETENTION_DAYS=-1: every run is kept")
            return
        cutoff = datetime.now(UTC) - timedelta(days=days)
        context.log.info(
            f"deleting finished runs created before {cutoff:%Y-%m-%d %H:%M} UTC (IMGASSETS_RUN_RETENTION_DAYS={days})"
        )
        report = purge_finished_runs(
            context.instance,
            cutoff,
            max_runs=config.max_runs,
            batch_size=config.batch_size,
            partitions_defs=partitions_defs,
            current_run_id=context.run_id,
            log=context.log.info,
        )
        more = "none left" if report.complete else f"stopped at {config.max_runs}, the next tick goes on"
        context.log.info(f"done: {report.summary()}; {more}")

    @dg.job(
        name=JOB_NAME,
        executor_def=dg.in_process_executor,
        description="Deletes finished runs past their retention (requested hourly by purge_runs_schedule).",
    )
    def job() -> None:
        purge()

    return job


def purge_runs_schedule(job: dg.JobDefinition) -> dg.ScheduleDefinition:
    """Hourly, `job` (purge_runs_job) unless retention is off or the previous purge is still going."""

    @dg.schedule(
        name="purge_runs_schedule",
        job=job,
        cron_schedule="23 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Hourly: deletes finished runs older than IMGASSETS_RUN_RETENTION_DAYS (-1 keeps them all).",
    )
    def schedule(context: dg.ScheduleEvaluationContext, pipeline: PipelineResource) -> dg.RunRequest | dg.SkipReason:
        if pipeline.run_retention_days == KEEP_FOREVER:
            return dg.SkipReason("IMGASSETS_RUN_RETENTION_DAYS=-1: every run is kept")
        if context.instance.get_runs_count(RunsFilter(job_name=JOB_NAME, statuses=_BUSY)):
            return dg.SkipReason("the previous purge has not finished")
        return dg.RunRequest()

    return schedule
