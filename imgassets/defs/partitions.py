"""The one partitioning of every asset: hour of upload, UTC."""

from __future__ import annotations

import warnings

from dagster import HourlyPartitionsDefinition, PreviewWarning


def hourly_partitions(start: str) -> HourlyPartitionsDefinition:
    """Every upload hour from `start` (IMGASSETS_PARTITIONS_START, read by definitions.py when Dagster loads the
    code location). A partitions definition is part of each asset's definition, so it cannot come from a resource.
    end_offset=1 makes the current, still-filling hour a partition, so sensor runs can target it."""
    return HourlyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1)


#: Asset checks carry the hour they checked (`AssetCheckSpec.partitions_def`), so Dagster's UI shows each result's
#: partition. Dagster 1.13 calls that a preview and warns at every definition; that is said here once instead.
warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", PreviewWarning)
