"""The bench's latency figure: each image of the latency phase by upload time, with the p50 and p95 lines, so
that stalls and drift show where the percentiles alone would hide them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from imgassets.core.records import DetectionRecord
from imgassets.devtools.bench_stats import latency, uploaded


def plot_latency(records: list[DetectionRecord], result: dict, path: Path) -> None:
    """Writes the figure to `path` (PNG); `result` is the bench's, for the percentiles and the title's rates."""
    import matplotlib  # the bench extra's (pyproject.toml): only the bench draws

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(records, key=uploaded)
    start = uploaded(ordered[0]) if ordered else datetime.now(UTC)
    xs = [(uploaded(r) - start).total_seconds() for r in ordered]
    ys = [latency(r) for r in ordered]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    ax.scatter(xs, ys, s=8, alpha=0.7)
    for label, key in (("p50", "p50_s"), ("p95", "p95_s")):
        ax.axhline(result["latency"][key], linestyle="--", linewidth=1, color="gray")
        ax.text(0, result["latency"][key], f" {label} {result['latency'][key]} s", va="bottom", fontsize=8)
    ax.set_xlabel("upload time (s since first upload)")
    ax.set_ylabel("upload → detection JSON (s)")
    ax.set_title(
        f"Latency at {result['latency']['rate_images_per_s']} img/s "
        f"({result['raw_detector']['backend']}, {result['end_to_end']['images_per_s']} img/s e2e max)"
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
