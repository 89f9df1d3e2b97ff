"""The bench's statistics: latencies from the records' own timestamps (not from when the bench saw them), the
summaries it reports, and the run workers' CPU against the raw forward pass."""

from __future__ import annotations

import statistics
from datetime import datetime

import numpy as np

from imgassets.core.records import DetectionRecord
from imgassets.devtools.raw_rate import RawRate
from imgassets.devtools.usage_sampling import RUN_WORKERS


def uploaded(record: DetectionRecord) -> datetime:
    """Upload time of a record the bench ingested itself (every such record has one)."""
    assert record.provenance.uploaded_at is not None, record.image_key
    return record.provenance.uploaded_at


def latency(record: DetectionRecord) -> float:
    """Seconds from the image's upload to its detection record."""
    return (record.provenance.processed_at - uploaded(record)).total_seconds()


def latencies(records: list[DetectionRecord]) -> list[float]:
    return sorted(latency(r) for r in records)


def percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def median(values: list[float]) -> float | None:
    """None when there is nothing to take the median of (no tick or run in the window)."""
    return round(statistics.median(values), 2) if values else None


def beyond_forward(cpu: dict[str, float], images: int, raw: RawRate) -> float:
    """How much CPU the run workers spent per image beyond the forward pass's, as a share of the forward pass's."""
    return 1000 * cpu.get(RUN_WORKERS, 0.0) / images / raw["forward_cpu_ms_per_image"] - 1
