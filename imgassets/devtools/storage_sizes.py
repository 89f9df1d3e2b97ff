"""Rows and bytes of every table of a PostgreSQL-backed Dagster instance (the production storage), and their
growth between two readings: what the volume bench reports per run.

Bytes are PostgreSQL's own accounting: the table with its TOAST (large run bodies and events are stored there,
compressed) and its indexes, in pages of 8 KiB, so a reading over a few runs moves by whole pages. Other storages
(SQLite: the local stack's, one database per run) return no reading.
"""

from __future__ import annotations

from dagster import DagsterInstance
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

#: (rows, table bytes with TOAST, index bytes) per table.
Reading = dict[str, tuple[int, int, int]]


def _engine(instance: DagsterInstance) -> Engine | None:
    """A connection-per-use engine on the instance's PostgreSQL database, or None when it is not on PostgreSQL."""
    from dagster_postgres import PostgresEventLogStorage

    storage = instance.event_log_storage
    if not isinstance(storage, PostgresEventLogStorage):
        return None
    return create_engine(storage.postgres_url, poolclass=NullPool)


def tables(instance: DagsterInstance) -> Reading | None:
    """Every table of the instance's PostgreSQL schema, or None when the instance is not on PostgreSQL."""
    engine = _engine(instance)
    if engine is None:
        return None
    try:
        with engine.connect() as connection:
            sizes = connection.execute(
                text(
                    "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'r' AND n.nspname = current_schema() ORDER BY c.relname"
                )
            ).all()
            return {
                name: (connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one(), table, index)
                for name, table, index in sizes
            }
    finally:
        engine.dispose()


def vacuum(instance: DagsterInstance) -> None:
    """VACUUM of the instance's PostgreSQL database (what autovacuum does in time): deleted rows' space becomes
    reusable; nothing when the instance is not on PostgreSQL."""
    engine = _engine(instance)
    if engine is None:
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM"))
    finally:
        engine.dispose()


def growth(before: Reading, after: Reading, runs: int) -> dict[str, object]:
    """Per run, of the tables that grew: rows, table bytes, index bytes; and the totals."""
    grown = {}
    for name, (rows, table, index) in sorted(after.items()):
        was = before.get(name, (0, 0, 0))
        delta = (rows - was[0], table - was[1], index - was[2])
        if any(delta):
            grown[name] = {
                "rows": round(delta[0] / runs, 2),
                "table_bytes": round(delta[1] / runs),
                "index_bytes": round(delta[2] / runs),
            }
    keys = ("rows", "table_bytes", "index_bytes")
    totals = {key: round(sum(float(t[key]) for t in grown.values()), 2) for key in keys}
    return {"tables": grown, "total": totals | {"bytes": totals["table_bytes"] + totals["index_bytes"]}}
