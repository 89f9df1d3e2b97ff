"""The local stack's warm code server: sensor ticks share the instance instead of opening it anew each tick."""

import subprocess
import sys
import textwrap


def test_sensor_ticks_share_one_instance_that_outlives_their_contexts(tmp_path) -> None:
    # In a process of its own: the code server patches Dagster's sensor context for its whole process.
    script = textwrap.dedent(
        f"""
        import os
        os.environ["DAGSTER_HOME"] = {str(tmp_path)!r}
        open(os.path.join(os.environ["DAGSTER_HOME"], "dagster.yaml"), "w").close()
        from dagster import DagsterInstance
        from dagster._core.definitions.sensor_definition import SensorEvaluationContext
        from imgassets.stack.warm_code_server import share_sensor_instances

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
        import os
        os.environ["DAGSTER_HOME"] = {str(tmp_path)!r}
        open(os.path.join(os.environ["DAGSTER_HOME"], "dagster.yaml"), "w").close()
        from alembic.script import ScriptDirectory
        from dagster import DagsterEventType, DagsterInstance, job, op
        from dagster._core.storage.sql import get_alembic_config
        from dagster._core.storage.event_log.sqlite import sqlite_event_log
        from imgassets.stack.instance import cache_migration_scripts

        cache_migration_scripts()
        cache_migration_scripts()  # idempotent
        config = get_alembic_config(sqlite_event_log.__file__)
        assert ScriptDirectory.from_config(config) is ScriptDirectory.from_config(config)

        @op
        def one():
            return 1

        @job
        def tiny():
            one()

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
