"""The benchmark runs end to end on its own stack and writes well-formed results (figures are not asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgassets.core.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def _bench(tmp_path: Path, *options: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    """`imgassets bench OPTIONS` in its own home, as a user runs it: its output, and the figures it wrote."""
    env = {k: v for k, v in os.environ.items()} | {"IMGASSETS_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [str(Path(sys.executable).with_name("imgassets")), "bench", *options, "--out", str(tmp_path / "out")],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    (json_file,) = (tmp_path / "out").glob("bench-*.json")
    return result, json.loads(json_file.read_text())


def test_bench_runs_and_writes_json_and_plot(tmp_path: Path) -> None:
    _, figures = _bench(tmp_path, "--images", "30", "--rate", "4", "--duration", "6", "--drain", "12")
    assert figures["end_to_end"]["images"] == 30
    assert figures["latency"]["images"] == 24
    drained = figures["drain"]
    assert drained["images"] == 12 and figures["first_result_s"] == drained["first_result_s"] > 0
    assert drained["drain_s"] >= drained["first_result_s"] and drained["cpu_ms_per_image"]["dagster-daemon"] > 0
    # The run workers (forked by the code server) do the work; the code server itself evaluates the sensor.
    assert drained["cpu_ms_per_image"]["run workers"] > 0 and drained["cpu_ms_per_image"]["dagster-code"] > 0
    breakdown = figures["latency"]["breakdown"]
    assert breakdown["ticks"] >= 1 and breakdown["runs"] >= 1
    assert breakdown["run_s"] > 0 and breakdown["queued_s"] >= 0 and breakdown["start_to_first_step_s"] >= 0
    assert 0 < figures["latency"]["p50_s"] <= figures["latency"]["p95_s"] <= figures["latency"]["max_s"]
    assert figures["raw_detector"]["images_per_s"] > 0 and figures["end_to_end"]["images_per_s"] > 0
    assert figures["peak_rss_mib"]["total"] > 0 and "kafka" in figures["peak_rss_mib"]
    assert figures["raw_detector"]["lanes"] >= 1 and figures["raw_detector"]["forward_cpu_ms_per_image"] > 0
    e2e = figures["end_to_end"]
    assert e2e["cpu_ms_per_image"] > 0 and e2e["cpu_seconds"]["dagster-daemon"] > 0 and "s3" in e2e["cpu_seconds"]
    assert e2e["run_workers_beyond_forward"] > -1 and e2e["cpu_seconds"]["run workers"] > 0
    assert e2e["from_first_run_start"]["images_per_s"] >= e2e["images_per_s"]  # a shorter window, same images
    versions = dict(figures["versions"])
    # The end-to-end phase's hours, which also hold the later phases' images unless an hour began in between.
    assert 30 <= versions.pop("images")["images"] <= 30 + 24 + 12
    assert set(versions) == {"conf03", "input608", "conf03_comparison"}
    assert all(v["status"] == "COMPLETED_SUCCESS" and v["runs"] >= 1 for v in versions.values())
    assert all(v["seconds"] >= v["run_seconds"] > 0 for v in versions.values())
    (plot,) = (tmp_path / "out").glob("bench-*-latency.png")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_zero_cost_detector_bench_measures_the_orchestration_against_the_model(tmp_path: Path) -> None:
    """`imgassets bench --detector none`: the stack runs the detector that finds nothing, the figures say so, and
    the orchestration's rate (its drain of a backlog already in Kafka and S3) and the end-to-end rate are set
    against the real model's raw rate measured first in the same run."""
    result, figures = _bench(
        tmp_path, "--detector", "none", "--images", "20", "--rate", "4", "--duration", "5", "--drain", "8"
    )
    assert figures["detector"].startswith("zero-cost detector") and "not a detection result" in figures["detector"]
    assert figures["raw_detector"]["backend"] == "onnxruntime" and figures["raw_detector"]["images_per_s"] > 0
    assert figures["end_to_end"]["images"] == 20 and figures["drain"]["images"] == 8
    raw = figures["raw_detector"]["images_per_s"]
    assert figures["capacity_to_raw_detector"] == round(figures["drain"]["images_per_s"] / raw, 3)
    assert figures["end_to_end_to_raw_detector"] == round(figures["end_to_end"]["images_per_s"] / raw, 3)
    # The orchestration's CPU: the services' and run workers', not the bench's own uploads and polling.
    cpu = figures["orchestration_cpu_ms_per_image"]
    assert "ingest client (bench)" not in cpu and "run workers" in cpu and cpu["total"] > 0
    assert cpu["total"] == round(sum(ms for name, ms in cpu.items() if name != "total"), 1)
    assert figures["versions"] == {}
    assert "orchestration capacity (zero-cost detector)" in result.stdout
