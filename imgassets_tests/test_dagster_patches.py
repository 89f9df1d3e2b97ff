"""Each private Dagster patch of the local stack (imgassets/stack/dagster_patches.py) names the Dagster it was
written for: on another Dagster its test fails, saying what to check, instead of the patch silently changing
meaning. The production path applies none of them."""

from __future__ import annotations

import importlib
import sys

import dagster
import pytest

from imgassets.stack import dagster_patches
from imgassets.stack.dagster_patches import PATCHES, PINNED_DAGSTER


@pytest.mark.parametrize("name", sorted(PATCHES))
def test_each_patch_targets_the_pinned_dagster(name: str) -> None:
    patch = PATCHES[name]
    assert dagster.__version__ == PINNED_DAGSTER, (
        f"the Dagster patch {name!r} ({patch.why}) was written for Dagster {PINNED_DAGSTER}; this is Dagster "
        f"{dagster.__version__}. Check that {', '.join(patch.targets)} still mean the same in this release, "
        f"re-measure the patch (imgassets bench with IMGASSETS_DAGSTER_PATCHES without it), then update "
        "PINNED_DAGSTER in imgassets/stack/dagster_patches.py"
    )
    for target in patch.targets:
        module, _, attribute = target.partition(":")
        assert hasattr(importlib.import_module(module), attribute), (
            f"the Dagster patch {name!r} uses {target}, which Dagster {dagster.__version__} no longer has"
        )


def test_the_pinned_dagster_is_the_one_the_project_installs() -> None:
    from imgassets.core.settings import PROJECT_ROOT

    assert f'"dagster=={PINNED_DAGSTER}"' in (PROJECT_ROOT / "pyproject.toml").read_text()


def test_patches_apply_only_when_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster._daemon.sensor as sensor_daemon

    monkeypatch.setattr(sensor_daemon, "MIN_INTERVAL_LOOP_TIME", sensor_daemon.MIN_INTERVAL_LOOP_TIME)
    import dagster._daemon.controller as controller

    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", controller.DEFAULT_DAEMON_INTERVAL_SECONDS)
    stock = sensor_daemon.MIN_INTERVAL_LOOP_TIME
    monkeypatch.setenv(dagster_patches.ENV_VAR, "none")
    dagster_patches.shorten_daemon_loops(1, 3)
    assert stock == sensor_daemon.MIN_INTERVAL_LOOP_TIME
    monkeypatch.setenv(dagster_patches.ENV_VAR, "daemon-loops,sqlite-engines")
    assert dagster_patches.chosen() == {"daemon-loops", "sqlite-engines"}
    dagster_patches.shorten_daemon_loops(1, 3)
    assert (sensor_daemon.MIN_INTERVAL_LOOP_TIME, controller.DEFAULT_DAEMON_INTERVAL_SECONDS) == (1, 3)


def test_an_unknown_patch_name_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dagster_patches.ENV_VAR, "daemon-loops,warm-run")
    with pytest.raises(SystemExit, match="unknown warm-run"):
        dagster_patches.chosen()


def test_the_production_entry_points_import_no_patch() -> None:
    """Compose and the Helm values start Dagster's own commands; nothing of the runtime package imports the patches
    except the local stack's entry points."""
    import subprocess

    script = "import sys, imgassets.definitions; print('imgassets.stack.dagster_patches' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.strip() == "False"
