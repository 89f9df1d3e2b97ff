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
