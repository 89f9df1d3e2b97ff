"""The Dagster daemon of every deployment (the local stack and compose), looking at its sensors every
IMGASSETS_SENSOR_INTERVAL_SECONDS and at its backfills every IMGASSETS_BACKFILL_INTERVAL_SECONDS.

Dagster's sensor daemon runs its loop every 5 s (`MIN_INTERVAL_LOOP_TIME`), whatever a sensor's minimum interval,
so a new message waits 2.5 s on average for the tick that reads it: half of a 5 s latency budget before any work.
This runs Dagster's own daemon CLI with that loop at the Kafka sensor's interval (default 2 s: 1 s of average
wait, for about 5 % of a core more while idle, measured). Every sensor still ticks at
most as often as its own minimum interval allows (the run status sensors: every 5 s); only the wait between loops
is shorter. It is pinned to the Dagster version this project pins (`test_sensor.py` checks the constant exists).

Its backfill daemon likewise looks for new and finished backfills every IMGASSETS_BACKFILL_INTERVAL_SECONDS (5 s)
instead of Dagster's 30 s (`DEFAULT_DAEMON_INTERVAL_SECONDS`, which Dagster's backfill loop reads), so a backfill
launched in the UI starts and is marked done within seconds. The asset daemon, the constant's other reader, keeps
its 30 s through the instance's `auto_materialize.minimum_interval_seconds`.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """`dagster-daemon ARGS`, its sensor loop every IMGASSETS_SENSOR_INTERVAL_SECONDS."""
    import dagster._daemon.controller as controller
    import dagster._daemon.sensor as sensor_daemon
    from dagster._daemon.cli import main as daemon_main

    from imgassets.settings import get_settings
    from imgassets.stack.instance import cache_migration_scripts, cache_sqlite_engines

    settings = get_settings()
    sensor_daemon.MIN_INTERVAL_LOOP_TIME = settings.sensor_interval_seconds
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = settings.backfill_interval_seconds
    cache_migration_scripts()
    cache_sqlite_engines()
    sys.argv = ["dagster-daemon", *argv]
    daemon_main()


if __name__ == "__main__":
    main(sys.argv[1:])
