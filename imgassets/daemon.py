"""The Dagster daemon of every deployment (the local stack and compose), looking at its sensors every
IMGASSETS_SENSOR_INTERVAL_SECONDS.

Dagster's sensor daemon runs its loop every 5 s (`MIN_INTERVAL_LOOP_TIME`), whatever a sensor's minimum interval,
so a new message waits 2.5 s on average for the tick that reads it: half of a 5 s latency budget before any work.
This runs Dagster's own daemon CLI with that loop at the Kafka sensor's interval (default 2 s: 1 s of average
wait, for about 5 % of a core more while idle, measured). Every sensor still ticks at
most as often as its own minimum interval allows (the run status sensors: every 5 s); only the wait between loops
is shorter. It is pinned to the Dagster version this project pins (`test_sensor.py` checks the constant exists).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """`dagster-daemon ARGS`, its sensor loop every IMGASSETS_SENSOR_INTERVAL_SECONDS."""
    import dagster._daemon.sensor as sensor_daemon
    from dagster._daemon.cli import main as daemon_main

    from imgassets.settings import get_settings
    from imgassets.stack.instance import cache_migration_scripts

    sensor_daemon.MIN_INTERVAL_LOOP_TIME = get_settings().sensor_interval_seconds
    cache_migration_scripts()
    sys.argv = ["dagster-daemon", *argv]
    daemon_main()


if __name__ == "__main__":
    main(sys.argv[1:])
