"""What the bench asks its stack's Dagster: to stop and start the Kafka sensor, and Dagster's own records of the
sensor's ticks and of the runs (through the webserver's GraphQL API, and the instance's run records), which time
the pipeline's steps better than any poll of the bench's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from imgassets.core.settings import Settings
from imgassets.defs.kafka_sensor import SENSOR_NAME
from imgassets.devtools.bench_stats import median
from imgassets.stack import dagster_api

if TYPE_CHECKING:
    from imgassets.stack import Stack


def _graphql(settings: Settings, query: str, variables: dict | None = None) -> dict:
    """The bench stack's Dagster (its own port on this machine)."""
    return dagster_api.graphql(f"http://127.0.0.1:{settings.dagster_port}", query, variables)


def _sensor(settings: Settings) -> tuple[dict, str]:
    """The Kafka sensor's selector and its instigation state id, from the running webserver."""
    data = _graphql(
        settings,
        """{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError {
             ... on RepositoryLocation { repositories { name sensors { name sensorState { id } } } } } } } } }""",
    )
    for entry in data["workspaceOrError"]["locationEntries"]:
        for repository in (entry["locationOrLoadError"] or {}).get("repositories", []):
            for sensor in repository["sensors"]:
                if sensor["name"] == SENSOR_NAME:
                    selector = {
                        "repositoryLocationName": entry["name"],
                        "repositoryName": repository["name"],
                        "sensorName": SENSOR_NAME,
                    }
                    return selector, sensor["sensorState"]["id"]
    raise RuntimeError(f"{SENSOR_NAME} not found in the bench stack's workspace")


def set_sensor(settings: Settings, running: bool) -> None:
    """Starts or stops the Kafka sensor, as its switch in Dagster's UI does (the drain phase holds images back)."""
    selector, state_id = _sensor(settings)
    if running:
        _graphql(
            settings,
            "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { __typename } }",
            {"s": selector},
        )
    else:
        _graphql(settings, "mutation($id: String!) { stopSensor(id: $id) { __typename } }", {"id": state_id})


def first_tick_with_runs(settings: Settings, after: float) -> float:
    """Start time (epoch seconds) of the first sensor tick after `after` that requested runs."""
    selector, _ = _sensor(settings)
    data = _graphql(
        settings,
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
             sensorState { ticks(limit: 50) { timestamp runIds } } } } }""",
        {"s": selector},
    )
    ticks = data["sensorOrError"]["sensorState"]["ticks"]
    found = [t["timestamp"] for t in ticks if t["timestamp"] >= after and t["runIds"]]
    if not found:
        seen = [(t["timestamp"], len(t["runIds"])) for t in ticks[:8]]
        raise RuntimeError(f"no sensor tick since {after:.1f} requested runs; the last ticks (time, runs): {seen}")
    return min(found)


def latency_breakdown(settings: Settings, since: float) -> dict:
    """Where an image's latency goes, from Dagster's own records of the sensor ticks and runs since `since`
    (epoch seconds): how far apart the ticks came and how long each took (a message waits for the next tick),
    how long a sensor run (image_batch_job; not the tracks and compaction runs) waited in the queue and took to start,
    and how long it ran (medians)."""
    selector, _ = _sensor(settings)
    ticks = _graphql(
        settings,
        """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
             sensorState { ticks(limit: 200) { timestamp endTimestamp } } } } }""",
        {"s": selector},
    )["sensorOrError"]["sensorState"]["ticks"]
    starts = sorted(t["timestamp"] for t in ticks if t["timestamp"] >= since)
    runs = [
        run
        for run in _graphql(
            settings,
            """{ runsOrError(filter: {pipelineName: "image_batch_job"}, limit: 200) { ... on Runs { results {
                 creationTime startTime endTime stepStats { startTime } } } } }""",
        )["runsOrError"]["results"]
        if run["creationTime"] >= since and run["startTime"] and run["endTime"]
    ]
    return {
        "ticks": len(starts),
        "tick_interval_s": median([b - a for a, b in zip(starts, starts[1:], strict=False)]),
        "tick_s": median(
            [t["endTimestamp"] - t["timestamp"] for t in ticks if t["timestamp"] >= since and t["endTimestamp"]]
        ),
        "runs": len(runs),
        "queued_s": median([r["startTime"] - r["creationTime"] for r in runs]),
        "start_to_first_step_s": median(
            [
                min(s["startTime"] for s in r["stepStats"] if s["startTime"]) - r["startTime"]
                for r in runs
                if any(s["startTime"] for s in r["stepStats"])
            ]
        ),
        "run_s": median([r["endTime"] - r["startTime"] for r in runs]),
    }


def first_run_start(stack: Stack, run_ids: set[str]) -> datetime:
    """When the earliest of these runs began executing, from the bench instance's run records."""
    from imgassets.stack.services import dagster_instance

    with dagster_instance(stack.settings, stack.paths) as instance:
        records = [instance.get_run_record_by_id(run_id) for run_id in run_ids]
        starts = [record.start_time for record in records if record is not None]
    return datetime.fromtimestamp(min(s for s in starts if s is not None), UTC)
