"""The code location loads with no credentials and no `.env`: what `dagster definitions validate` checks in CI."""

import subprocess
import sys
from pathlib import Path

from imgassets.core.settings import PROJECT_ROOT


def _run_clean(argv: list[str], tmp_path: Path, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Runs `argv` with no IMGASSETS_* variables, no .env and an empty Dagster home."""
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IMGASSETS_ENV_FILE": "/dev/null", "DAGSTER_HOME": str(home)}
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def test_definitions_load_without_credentials(tmp_path: Path) -> None:
    script = (
        "from dagster import Definitions\n"
        "import imgassets.definitions as module\n"
        "defs = module.defs()\n"
        "assert isinstance(defs, Definitions)\n"
        "repo = defs.get_repository_def()\n"
        "print(sorted(s.name for s in repo.sensor_defs), sorted(k.to_user_string() for k in repo.assets_defs_by_key))\n"
    )
    done = _run_clean([sys.executable, "-c", script], tmp_path, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "['canceled_batch_sensor', 'failed_batch_sensor', 'hour_tracks_sensor', 'kafka_image_sensor', "
        "'table_compaction_sensor'] "
        "['conf03/comparison', 'conf03/detections', 'conf03/tracks', 'detection_summary', 'detection_table', "
        "'detections', 'input608/comparison', 'input608/detections', 'input608/tracks', 'int8/comparison', "
        "'int8/detections', 'int8/tracks', 'raw_images', 'tracks']"
    ), "the pipeline's assets, and those of each detector version of detector-versions.toml but the active one"


def test_dagster_definitions_validate_passes_without_credentials(tmp_path: Path) -> None:
    dagster = str(Path(sys.executable).with_name("dagster"))
    done = _run_clean(
        [dagster, "definitions", "validate", "-w", str(PROJECT_ROOT / "workspace.yaml")],
        tmp_path,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr


def test_sensor_runs_leave_tracks_to_the_tracks_sensor() -> None:
    """Every sensor run (image_batch_job) leaves out `tracks`, which re-tracks its whole hour; hour_tracks_job
    materializes it alone, with its check, on the tracks sensor's clock (IMGASSETS_TRACKS_INTERVAL_SECONDS, through
    build_definitions). `tracks` stays in the group, so a backfill of the group still includes it."""
    from dagster import AssetKey, DefaultSensorStatus

    from imgassets.core.settings import Settings
    from imgassets.definitions import build_definitions

    defs = build_definitions(Settings(_env_file=None, tracks_interval_seconds=12))
    selected = {
        name: sorted(key.to_user_string() for key in defs.resolve_job_def(name).asset_layer.selected_asset_keys)
        for name in ("image_batch_job", "hour_tracks_job")
    }
    assert selected == {
        "image_batch_job": ["detection_summary", "detection_table", "detections", "raw_images"],
        "hour_tracks_job": ["tracks"],
    }
    checks = {name: defs.resolve_job_def(name).asset_layer.asset_graph.asset_check_keys for name in selected}
    assert {key.name for key in checks["hour_tracks_job"]} == {"every_source_tracked"}
    assert "every_source_tracked" not in {key.name for key in checks["image_batch_job"]}
    assert defs.resolve_assets_def(AssetKey("tracks")).group_names_by_key[AssetKey("tracks")] == "image_analytics"
    sensor = defs.resolve_sensor_def("hour_tracks_sensor")
    assert (
        sensor.minimum_interval_seconds == 11
    )  # the daemon's loop ticks it every 12 s (kafka_sensor.minimum_interval)
    assert sensor.default_status == DefaultSensorStatus.RUNNING
