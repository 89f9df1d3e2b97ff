"""The local stack's Dagster daemon: Dagster's own daemon CLI with the patches of `dagster_patches` (its sensor
loop every IMGASSETS_SENSOR_INTERVAL_SECONDS instead of 5 s, its backfill loop every
IMGASSETS_BACKFILL_INTERVAL_SECONDS instead of 30 s, the storage caches). The production path runs
`dagster-daemon run` as shipped."""

from __future__ import annotations

import sys

from imgassets.stack import dagster_patches


def main(argv: list[str]) -> None:
    """`dagster-daemon ARGS`, patched."""
    from dagster._daemon.cli import main as daemon_main

    from imgassets.core.settings import get_settings

    settings = get_settings()
    dagster_patches.shorten_daemon_loops(settings.sensor_interval_seconds, settings.backfill_interval_seconds)
    dagster_patches.cache_migration_scripts()
    dagster_patches.cache_sqlite_engines()
    sys.argv = ["dagster-daemon", *argv]
    daemon_main()


if __name__ == "__main__":
    main(sys.argv[1:])
