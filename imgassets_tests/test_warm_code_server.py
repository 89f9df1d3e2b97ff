"""The local stack's warm code server: sensor ticks share the instance instead of opening it anew each tick."""

import subprocess
import sys
import textwrap


def _instance_and_tiny_job(home) -> str:
    """Script lines (at the scripts' indentation) for an empty instance in `home` and a one-op job `tiny`."""
    return "\n        ".join(
        [
            "import os",
            f"os.environ['DAGSTER_HOME'] = {str(home)!r}",
            "open(os.path.join(os.environ['DAGSTER_HOME'], 'dagster.yaml'), 'w').close()",
            "from dagster import DagsterEventType, DagsterInstance, job, op",
            "@op",
            "def one():",
            "    return 1",
            "@job",
            "def tiny():",
            "    one()",
        ]
    )


def test_sensor_ticks_share_one_instance_that_outlives_their_contexts(tmp_path) -> None:
    # In a process of its own: the code server patches Dagster's sensor context for its whole process.
    script = textwrap.dedent(
        f"""
        import os
        os.environ["DAGSTER_HOME"] = {str(tmp_path)!r}
        open(os.path.join(os.environ["DAGSTER_HOME"], "dagster.yaml"), "w").close()
        from dagster import DagsterInstance
        from dagster._core.definitions.sensor_definition import SensorEvaluationContext
        from imgassets.stack.dagster_patches import share_sensor_instances

        ref = DagsterInstance.get().get_ref()
        share_sensor_instances()
        seen = []
        for _ in range(3):
            with SensorEvaluationContext(instance_ref=ref) as context:
                seen.append(context.instance)
        assert all(instance is seen[0] for instance in seen), seen
        assert seen[0].get_runs_count() == 0  # still open after every tick's context closed
        print("one instance for", len(seen), "ticks")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "one instance for 3 ticks" in result.stdout


def test_migration_scripts_are_read_once_and_instances_still_initialize(tmp_path) -> None:
    # In a process of its own: the cache patches Alembic for its whole process.
    script = textwrap.dedent(
        f"""
        {_instance_and_tiny_job(tmp_path)}
        from alembic.script import ScriptDirectory
        from dagster._core.storage.sql import get_alembic_config
        from dagster._core.storage.event_log.sqlite import sqlite_event_log
        from imgassets.stack.dagster_patches import cache_migration_scripts

        cache_migration_scripts()
        cache_migration_scripts()  # idempotent
        config = get_alembic_config(sqlite_event_log.__file__)
        assert ScriptDirectory.from_config(config) is ScriptDirectory.from_config(config)

        # A fresh instance creates and stamps its databases, and each run's own event log database.
        instance = DagsterInstance.get()
        runs = [tiny.execute_in_process(instance=instance) for _ in range(2)]
        assert all(run.success for run in runs)
        for run in runs:
            events = instance.all_logs(run.run_id)
            assert any(e.dagster_event and e.dagster_event.event_type == DagsterEventType.RUN_SUCCESS for e in events)
        revision = instance.event_log_storage.alembic_version()
        assert revision[0] == revision[1], revision
        print("runs", len(runs), "at revision", revision[0])
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "runs 2 at revision" in result.stdout


def test_the_forkservers_last_preload_module_imports_without_a_stack() -> None:
    # What the forkserver does with it: import it (it reaches no server).
    script = (
        "import imgassets.stack.warm_runs; from alembic.script import ScriptDirectory; "
        "assert ScriptDirectory.from_config.cached_scripts; print('ready')"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ready"


def test_runs_forked_from_the_warm_server_detect_with_the_networks_it_made(tmp_path) -> None:
    # What a run does in a process forked from the forkserver, which imported PRELOAD (warm_runs last): its
    # detector is the preloaded one, a network per lane idle, and its rows are those of a detector made afresh.
    script = textwrap.dedent(
        """
        import multiprocessing
        from pathlib import Path
        import numpy as np
        from imgassets.core import images
        from imgassets.devtools.bench_photos import PHOTOS
        from imgassets.defs.resource_types import DetectorResource
        from imgassets.core.settings import get_settings
        from imgassets.stack.warm_code_server import warm_context

        def run(queue):
            detector = DetectorResource.from_settings(get_settings()).load()
            idle = len(detector._networks)
            photos = sorted(PHOTOS.glob("*.jpg"))
            rows = [detector.raw_rows([images.decode_bgr(p.read_bytes())]) for p in photos]
            queue.put((idle, detector.lanes, len(detector._networks), rows, [str(p) for p in photos]))

        if __name__ == "__main__":
            context = warm_context()
            queue = context.Queue()
            process = context.Process(target=run, args=(queue,))
            process.start()
            idle, lanes, after, rows, photos = queue.get(timeout=300)
            process.join()
            assert process.exitcode == 0 and photos, (process.exitcode, photos)
            assert idle == lanes == after, (idle, lanes, after)  # none made in the run, none lost
            version = DetectorResource.from_settings(get_settings()).versions().active
            fresh = version.detector()
            for path, got in zip(photos, rows, strict=True):
                assert np.array_equal(got, fresh.raw_rows([images.decode_bgr(Path(path).read_bytes())])), path
            print("preloaded", idle, "networks;", len(photos), "photos detected alike")
        """
    )
    script_file = tmp_path / "warm_detector.py"  # the forkserver's children import the main module by its path
    script_file.write_text(script)
    result = subprocess.run([sys.executable, str(script_file)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "networks;" in result.stdout and "photos detected alike" in result.stdout, result.stdout


def test_sqlite_engines_are_made_once_per_database_and_runs_still_record_everything(tmp_path) -> None:
    # In a process of its own: the cache patches Dagster's SQLite storages for its whole process.
    script = textwrap.dedent(
        f"""
        import sqlalchemy
        made = []
        create_engine = sqlalchemy.create_engine
        sqlalchemy.create_engine = lambda url, **kwargs: made.append(str(url)) or create_engine(url, **kwargs)
        {_instance_and_tiny_job(tmp_path)}
        from imgassets.stack.dagster_patches import cache_sqlite_engines

        cache_sqlite_engines()
        cache_sqlite_engines()  # idempotent
        instance = DagsterInstance.get()
        runs = [tiny.execute_in_process(instance=instance) for _ in range(3)]
        assert all(run.success for run in runs)
        for run in runs:
            kinds = [e.dagster_event.event_type for e in instance.all_logs(run.run_id) if e.dagster_event]
            assert kinds[0] == DagsterEventType.RUN_START and kinds[-1] == DagsterEventType.RUN_SUCCESS, kinds
            assert DagsterEventType.STEP_SUCCESS in kinds, kinds
        assert instance.get_runs_count() == 3
        assert len(made) == len(set(made)), sorted(made)  # one engine per database
        assert sum(run.run_id in url for run in runs for url in made) == 3, made  # each run's own event log
        print("engines", len(made), "for", len(runs), "runs")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "engines" in result.stdout, result.stdout
