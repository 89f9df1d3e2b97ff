"""Dagster's GraphQL API (the webserver's, which its UI uses): what the CLI and the benchmark ask of a running
Dagster, such as launching a detector version's backfill or stopping the sensor."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class DagsterUnavailable(RuntimeError):
    """The webserver cannot be reached or refused the request; the message says which and where."""


def graphql(url: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `data` of one GraphQL request to the webserver at `url` (e.g. http://127.0.0.1:3000)."""
    request = urllib.request.Request(
        f"{url.rstrip('/')}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        raise DagsterUnavailable(f"Dagster's webserver at {url} cannot be reached: {exc}") from None
    if body.get("errors"):
        raise DagsterUnavailable(f"Dagster's GraphQL API at {url}: {body['errors']}")
    return body["data"]


def reload_location(url: str, location: str) -> None:
    """Reloads a code location, as the UI's Deployment → Reload does (definitions read again: a new detector
    version's assets appear); raises DagsterUnavailable when it fails to load, with Dagster's message."""
    reloaded = graphql(
        url,
        """mutation ($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
             __typename
             ... on WorkspaceLocationEntry { locationOrLoadError { __typename ... on PythonError { message } } }
             ... on PythonError { message }
             ... on RepositoryLocationNotFound { message }
             ... on UnauthorizedError { message }
           } }""",
        {"name": location},
    )["reloadRepositoryLocation"]
    loaded = reloaded.get("locationOrLoadError") or {}
    if reloaded["__typename"] != "WorkspaceLocationEntry" or loaded.get("__typename") == "PythonError":
        message = loaded.get("message") or reloaded.get("message") or reloaded["__typename"]
        raise DagsterUnavailable(f"Dagster could not reload the code location {location!r}: {message}")


def launch_backfill(url: str, assets: list[list[str]], partitions: list[str], title: str) -> str:
    """Launches one backfill of `assets` (asset key paths) over `partitions`, as the UI's Materialize dialog
    does; returns its id."""
    launched = graphql(
        url,
        """mutation ($params: LaunchBackfillParams!) {
          launchPartitionBackfill(backfillParams: $params) {
            __typename
            ... on LaunchBackfillSuccess { backfillId }
            ... on PythonError { message }
            ... on PartitionSetNotFoundError { message }
            ... on InvalidStepError { invalidStepKey }
            ... on InvalidOutputError { stepKey invalidOutputName }
            ... on UnauthorizedError { message }
          }
        }""",
        {
            "params": {
                "partitionNames": partitions,
                "assetSelection": [{"path": path} for path in assets],
                "title": title,
            }
        },
    )["launchPartitionBackfill"]
    if launched["__typename"] != "LaunchBackfillSuccess":
        raise DagsterUnavailable(f"the backfill was not launched: {launched}")
    return launched["backfillId"]


#: Backfill states that will not change any more.
FINAL_STATES = ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")


@dataclass(frozen=True)
class BackfillState:
    status: str
    #: Runs launched so far, and how many of them have ended.
    runs: int
    finished: int
    #: The ended runs' time from start to end, added up (what the work took, without the daemon's scheduling).
    run_seconds: float
    #: Why the backfill failed, as Dagster gives it (None unless it failed).
    error: str | None = None


def backfill_state(url: str, backfill_id: str) -> BackfillState:
    found = graphql(
        url,
        """query ($id: String!) { partitionBackfillOrError(backfillId: $id) {
             ... on PartitionBackfill {
               status error { message } runs(limit: 10000) { status startTime endTime } } } }""",
        {"id": backfill_id},
    )["partitionBackfillOrError"]
    runs = found.get("runs") or []
    ended = [run for run in runs if run["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
    seconds = sum(run["endTime"] - run["startTime"] for run in ended if run["startTime"] and run["endTime"])
    error = (found.get("error") or {}).get("message")
    return BackfillState(found["status"], len(runs), len(ended), round(seconds, 2), error)


def failed_steps(url: str, backfill_id: str, runs: int = 3) -> list[str]:
    """Why a backfill's runs failed: "step: error" of the failed steps of up to `runs` failed runs, so the CLI can
    say why without sending the user to the UI."""
    found = graphql(
        url,
        """query ($id: String!, $runs: Int!) {
             runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}], statuses: [FAILURE]}, limit: $runs) {
               ... on Runs { results { eventConnection { events { __typename
                 ... on ExecutionStepFailureEvent { stepKey error { message causes { message } } } } } } } } }""",
        {"id": backfill_id, "runs": runs},
    )["runsOrError"]
    reasons = {
        f"{event['stepKey']}: {_root_cause(event.get('error') or {})}"
        for run in found.get("results", [])
        for event in run["eventConnection"]["events"]
        if event["__typename"] == "ExecutionStepFailureEvent"
    }
    return sorted(reasons)


def _root_cause(error: dict[str, Any]) -> str:
    """The innermost error's message (Dagster wraps a step's exception in its own)."""
    chain = [error, *(error.get("causes") or [])]
    return str(chain[-1].get("message", "")).strip()
