"""End to end on the whole local stack, driven only through the project's own commands:
`imgassets stack up` → `imgassets ingest` → the running daemon's sensor launches runs → detections and the
hour summary in S3 → materializations in Dagster's GraphQL API → the viewer in a real browser.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from imgassets.settings import PROJECT_ROOT
from imgassets_tests import helpers
from imgassets_tests.conftest import PHOTOS, _base_env

pytestmark = pytest.mark.e2e

PORTS = {"kafka": 19092, "s3": 18433, "dagster": 13000, "viewer": 13001}
IMGASSETS = str(Path(sys.executable).with_name("imgassets"))
T = TypeVar("T")


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IMGASSETS, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, check=False
    )


def _graphql(query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORTS['dagster']}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


class Stack:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        os.environ.update({k: v for k, v in env.items() if k.startswith("IMGASSETS_")})
        from imgassets.settings import get_settings
        from imgassets.storage import ObjectStore

        get_settings.cache_clear()
        self.store = ObjectStore.from_settings(get_settings())

    def summaries(self) -> list[dict]:
        from imgassets import layout

        return [self.store.get_json(key) for key in self.store.list_keys(layout.SUMMARIES)]

    def summarised(self) -> int:
        """Images counted by all hour summaries."""
        return sum(summary["image_count"] for summary in self.summaries())

    def wait_for_summary(self, images: int, timeout: float = 240) -> dict:
        def full() -> dict | None:
            return next((s for s in self.summaries() if s["image_count"] + s["rejected_count"] >= images), None)

        summary = _poll(full, lambda found: found is not None, timeout)
        if summary is None:
            logs = _cli(self.env, "stack", "logs", "dagster-daemon", "-n", "80").stdout
            raise AssertionError(f"no summary with {images} images after {timeout} s; daemon log:\n{logs}")
        return summary

    def wait_for_total(self, images: int, timeout: float = 240) -> int:
        total = _poll(self.summarised, lambda found: found >= images, timeout)
        assert total >= images, f"{total} of {images} images summarised after {timeout} s"
        return total


def _poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float, every: float = 1.0) -> T:
    """Calls `fetch` until `done` accepts its value or `timeout` passes; returns the last value either way."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = fetch()
    return value


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("e2e-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGASSETS_")} | _base_env(home, PORTS)
    saved = {k: v for k, v in os.environ.items() if k.startswith("IMGASSETS_")}
    started = _cli(env, "stack", "up", "--no-demo")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield Stack(env)
    finally:
        stopped = _cli(env, "stack", "down")
        os.environ.update(saved)
        from imgassets.settings import get_settings

        get_settings.cache_clear()
        assert stopped.returncode == 0, stopped.stderr


@pytest.fixture(scope="module")
def ingested(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("incoming")
    for photo in PHOTOS.glob("*.jpg"):
        shutil.copy(photo, folder / photo.name)
    shutil.copy(PHOTOS / "dog.jpg", folder / "Hund im Garten ü.jpg")  # same bytes: deduplicated
    started = time.monotonic()
    result = _cli(stack.env, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    assert "sent 5, already ingested 1, failed 0" in result.stdout
    summary = stack.wait_for_summary(5)
    print(f"\ningest → hour summary with 5 images in S3: {time.monotonic() - started:.1f} s")
    return summary


def test_detections_and_summary_appear_in_s3(stack: Stack, ingested: dict) -> None:
    from imgassets import layout
    from imgassets.records import DetectionRecord

    assert ingested["image_count"] == 5 and ingested["rejected_count"] == 0
    assert ingested["class_counts"]["dog"] == 2 and ingested["class_counts"]["horse"] == 3
    for image in ingested["images"]:
        record = stack.store.get_record(image["detection_key"], DetectionRecord)
        assert record.provenance.kafka is not None
        assert layout.parse_image_key(record.image_key).partition == ingested["partition"]
        latency = (record.provenance.processed_at - record.provenance.uploaded_at).total_seconds()
        print(f"upload → detection JSON for {record.image_key.rsplit('/', 1)[-1]}: {latency:.1f} s")


def test_sensor_runs_and_materializations_are_visible_in_dagster(stack: Stack, ingested: dict) -> None:
    # The summary object is written just before its step reports the materialization: allow that moment.
    def recorded(data: dict) -> bool:
        runs = data["runsOrError"]["results"]
        settled = runs and all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs)
        return bool(data["assetOrError"]["assetMaterializations"] and settled)

    data = _poll(lambda: _materializations_and_kafka_runs(ingested["partition"]), recorded, 60)
    runs = data["runsOrError"]["results"]
    materializations = data["assetOrError"]["assetMaterializations"]
    assert materializations and materializations[0]["partition"] == ingested["partition"]
    images = {e["label"]: e.get("intValue") for e in materializations[-1]["metadataEntries"]}
    assert images["images"] >= 1
    assert runs and all(run["status"] == "SUCCESS" for run in runs)
    assert {run["runId"] for run in runs} >= {m["runId"] for m in materializations}


def _materializations_and_kafka_runs(partition: str) -> dict:
    return _graphql(
        """query ($partition: String!) {
          assetOrError(assetKey: {path: ["detection_summary"]}) {
            ... on Asset { assetMaterializations(partitions: [$partition]) {
              partition runId metadataEntries { label ... on IntMetadataEntry { intValue } } } }
          }
          runsOrError(filter: {tags: [{key: "imgassets/trigger", value: "kafka"}]}) {
            ... on Runs { results { runId status tags { key value } } }
          }
        }""",
        {"partition": partition},
    )


def test_viewer_shows_the_results_in_a_real_browser(stack: Stack, ingested: dict) -> None:
    result = subprocess.run(
        ["npm", "run", "test:e2e"],
        cwd=PROJECT_ROOT / "frontend",
        env=stack.env | {"VIEWER_URL": f"http://127.0.0.1:{PORTS['viewer']}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_status_up_again_and_busy_ports(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    status = _cli(stack.env, "stack", "status", "--json")
    assert status.returncode == 0, status.stdout
    assert {row["service"]: row["state"] for row in json.loads(status.stdout)} == {
        "kafka": "healthy", "s3": "healthy", "dagster-webserver": "healthy", "dagster-daemon": "healthy",
        "viewer": "healthy",
    }
    again = _cli(stack.env, "stack", "up", "--no-demo")
    assert again.returncode == 0 and "starting" not in again.stdout, again.stdout
    other_home = stack.env | {"IMGASSETS_HOME": str(tmp_path / "other")}
    clash = _cli(other_home, "stack", "up", "--no-demo", "--no-viewer")
    assert clash.returncode != 0 and "already in use" in clash.stderr, clash.stderr


def test_daemon_killed_mid_run_loses_nothing(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """The daemon's whole process group is SIGKILLed while a run executes, taking its code server and run worker
    along: after the restart, run monitoring finds the worker gone, fails the run, and a retry completes it."""
    from imgassets.settings import get_settings
    from imgassets.stack import Stack as LocalStack

    folder = _photo_folder(tmp_path, "more", 20, first=50_000)
    daemon = LocalStack(get_settings()).service("dagster-daemon")
    runs_before = {run["runId"] for run in _runs({})}
    result = _cli(stack.env, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    started = _await_new_run("STARTED", runs_before)
    pid = daemon.pid()
    assert pid is not None
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    time.sleep(1)
    assert daemon.pid() is None
    daemon.start()
    assert stack.wait_for_total(25) == 25  # across hours: the ingest may straddle an hour boundary
    # Unless the run had just finished when its worker died, it failed and a retry did its work.
    if _runs({"runIds": [started["runId"]]})[0]["status"] != "SUCCESS":
        print(f"\nrun {started['runId']} orphaned by the daemon's death; automatic retries: "
              f"{_outcomes(_await_successful_retry(started))}")


def _await_new_run(status: str, known: set[str], timeout: float = 120, without_tag: str | None = None) -> dict:
    """The first run not in `known` that has `status` (and not the tag `without_tag`, if given)."""
    def new() -> list[dict]:
        return [run for run in _runs({"statuses": [status]})
                if run["runId"] not in known and not (without_tag and _has_tag(run, without_tag))]

    found = _poll(new, bool, timeout, every=0.1)
    assert found, f"no new run reached {status} within {timeout} s"
    return found[0]


def _runs(filter_: dict) -> list[dict]:
    query = """query ($filter: RunsFilter) { runsOrError(filter: $filter) {
      ... on Runs { results { runId status tags { key value } } } } }"""
    return _graphql(query, {"filter": filter_})["runsOrError"]["results"]


def test_a_failed_run_is_retried_by_dagster_and_completes(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """S3 is down when a sensor run starts: the run fails after bounded S3 retries, Dagster's run-retry daemon
    re-executes it from the failure on its own, and once S3 is back the retry completes the batch."""
    from imgassets.settings import get_settings
    from imgassets.stack import Stack as LocalStack
    from imgassets_tests.conftest import _wait_bucket_ready

    local = LocalStack(get_settings())
    daemon, s3 = local.service("dagster-daemon"), local.service("s3")
    before = stack.summarised()
    failed_before = {run["runId"] for run in _runs({"statuses": ["FAILURE"]})}
    folder = _photo_folder(tmp_path, "retry", 12, first=60_000)
    daemon.stop()  # no sensor tick until S3 is down
    try:
        result = _cli(stack.env, "ingest", str(folder))
        assert result.returncode == 0 and "sent 12," in result.stdout, result.stdout + result.stderr
        s3.stop()
        daemon.start()
        failed = _await_new_run("FAILURE", failed_before, 180, without_tag="dagster/parent_run_id")
    finally:
        s3.start()
        s3.wait_healthy(60)
        _wait_bucket_ready(stack.store)
    assert stack.wait_for_total(before + 12) == before + 12
    retries = _await_successful_retry(failed)
    _account(stack, "whole stack: daemon SIGKILL; S3 down, run auto-retried")
    print(f"\nrun {failed['runId']} failed with S3 down; automatic retries: {_outcomes(retries)}")


def test_a_killed_run_worker_fails_its_run_and_dagster_retries_it(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """The run worker process is SIGKILLed mid-run (what the kernel's OOM killer does): the code server that
    launched it reports the run failed, Dagster's run retries re-execute it, and the batch completes."""
    import psutil

    from imgassets.settings import get_settings
    from imgassets.stack import Stack as LocalStack

    daemon = LocalStack(get_settings()).service("dagster-daemon")
    before = stack.summarised()
    runs_before = {run["runId"] for run in _runs({})}
    folder = _photo_folder(tmp_path, "killed", 150, first=70_000)
    result = _cli(stack.env, "ingest", str(folder))
    assert result.returncode == 0 and "sent 150," in result.stdout, result.stdout + result.stderr

    run = _await_new_run("STARTED", runs_before)
    pid = daemon.pid()
    assert pid is not None
    (worker,) = [p for p in psutil.Process(pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    worker.kill()
    status = _poll(lambda: _runs({"runIds": [run["runId"]]})[0]["status"], lambda s: s == "FAILURE", 60, every=0.5)
    assert status == "FAILURE"
    retries = _await_successful_retry(run)
    assert stack.wait_for_total(before + 150) == before + 150
    _account(stack, "whole stack: + run worker SIGKILL, run auto-retried")
    print(f"\nrun {run['runId']} lost its worker (SIGKILL); automatic retries: {_outcomes(retries)}")


def _photo_folder(tmp_path: Path, name: str, count: int, first: int) -> Path:
    """`count` distinct real-content photos (never ingested before) in a new folder."""
    from imgassets.bench import synthetic_photos

    folder = tmp_path / name
    folder.mkdir()
    for index, data in enumerate(synthetic_photos(count, first=first)):
        (folder / f"{name}-{index}.jpg").write_bytes(data)
    return folder


def _await_successful_retry(failed: dict, timeout: float = 90) -> list[dict]:
    """Dagster's automatic retries of a failed run, once one of them has succeeded."""
    assert {"key": "dagster/max_retries", "value": "2"} in failed["tags"]
    # A run's summary lands a moment before it reports success, so wait for the success itself.
    retries = _poll(lambda: _runs({"tags": [{"key": "dagster/root_run_id", "value": failed["runId"]}]}),
                    lambda found: any(run["status"] == "SUCCESS" for run in found), timeout)
    assert retries, "Dagster did not retry the failed run"
    assert all({"key": "dagster/retry_number", "value": str(n)} in run["tags"] for n, run in
               enumerate(sorted(retries, key=lambda r: _tag(r, "dagster/retry_number")), start=1))
    assert any(run["status"] == "SUCCESS" for run in retries), retries
    return retries


def _outcomes(retries: list[dict]) -> str:
    return ", ".join(f"#{_tag(r, 'dagster/retry_number')} {r['status']}" for r in retries)


def _account(stack: Stack, scenario: str) -> None:
    """A reliability-report row over every message the e2e stack has received so far."""
    from imgassets.settings import get_settings

    settings = get_settings()
    helpers.account(scenario, stack.store, settings.kafka_topic, settings.kafka_dlq_topic)


def _tag(run: dict, key: str) -> str:
    return next(tag["value"] for tag in run["tags"] if tag["key"] == key)


def _has_tag(run: dict, key: str) -> bool:
    return any(tag["key"] == key for tag in run["tags"])


def test_no_secret_in_any_service_log(stack: Stack, ingested: dict) -> None:
    secret = stack.env["IMGASSETS_S3_SECRET_ACCESS_KEY"]
    logs = Path(stack.env["IMGASSETS_HOME"]) / "logs"
    for log in logs.glob("*.log"):
        assert secret not in log.read_text(errors="replace"), log


def test_restart_keeps_kafka_s3_and_dagster_state(stack: Stack, ingested: dict) -> None:
    assert _cli(stack.env, "stack", "down").returncode == 0
    restarted = _cli(stack.env, "stack", "up", "--no-demo")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    from imgassets import layout

    assert stack.store.get_json(layout.summary_key(ingested["partition"]))["image_count"] >= 5
    runs = _graphql('{ runsOrError { ... on Runs { results { runId } } } }', {})["runsOrError"]["results"]
    assert runs, "run history lost across restart"
    # The sensor resumes from its persisted cursor: no old message launches a run again.
    before = len(runs)
    time.sleep(12)  # two sensor ticks
    after = _graphql('{ runsOrError { ... on Runs { results { runId } } } }', {})["runsOrError"]["results"]
    assert len(after) == before
