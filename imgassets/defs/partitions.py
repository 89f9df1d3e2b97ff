"""The one partitioning of every asset: hour of upload, UTC."""

from __future__ import annotations

from dagster import HourlyPartitionsDefinition

from imgassets.settings import get_settings

#: Fixed at import: a partitions definition is part of each asset's definition, so its start cannot come from a
#: resource. end_offset=1 makes the current, still-filling hour a partition, so sensor runs can target it.
hourly_partitions = HourlyPartitionsDefinition(start_date=get_settings().partitions_start, timezone="UTC", end_offset=1)
