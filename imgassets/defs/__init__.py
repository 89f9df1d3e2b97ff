"""Dagster definitions, grouped by concern: partitions, assets (with their checks), jobs, sensors."""
