"""End to end on the whole local stack, driven only through the project's own commands:
`imgassets stack up` → `imgassets ingest` → the running daemon's sensor launches runs → detections and the
hour summary in S3 → materializations in Dagster's GraphQL API → the viewer in a real browser.
"""

import contextlib
import json
import os
import shutil
import signal
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from imgassets.core.settings import PROJECT_ROOT
from imgassets_tests import helpers
from imgassets_tests.conftest import PHOTOS
from imgassets_tests.e2e_stack import IMGASSETS, PORTS, Stack, browser_tests, cli, graphql, poll

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ingested(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("incoming")
    for photo in PHOTOS.glob("*.jpg"):
        shutil.copy(photo, folder / photo.name)
    shutil.copy(PHOTOS / "dog.jpg", folder / "Hund im Garten ü.jpg")  # same bytes: deduplicated
    started = time.monotonic()
    result = cli(stack.env, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    assert "sent 5, already ingested 1, failed 0" in result.stdout
    summary = stack.wait_for_summary(5)
    print(f"\ningest → hour summary with 5 images in S3: {time.monotonic() - started:.1f} s")
    return summary


def test_detections_summary_and_table_appear_in_s3(stack: Stack, ingested: dict) -> None:
    from imgassets.core import layout, table
    from imgassets.core.records import DetectionRecord

    assert ingested["image_count"] == 5 and ingested["rejected_count"] == 0
    assert ingested["class_counts"]["dog"] == 2 and ingested["class_counts"]["horse"] == 3
    assert sum(ingested["source_counts"].values()) == 5
    # The hour's table is written by the step after the summary's.
    hour = poll(
        lambda: table.read_hour(stack.store, ingested["partition"]),
        lambda found: found is not None and found.images.num_rows == 5,
        60,
    )
    assert hour is not None and hour.images.num_rows == 5
    for image in hour.images.to_pylist():
        record = stack.store.get_record(image["detection_key"], DetectionRecord)
        assert dict(image["counts"]) == record.counts
        assert record.provenance.kafka is not None and record.provenance.uploaded_at is not None
        assert layout.parse_image_key(record.image_key).partition == ingested["partition"]
        latency = (record.provenance.processed_at - record.provenance.uploaded_at).total_seconds()
        print(f"upload → detection JSON for {record.image_key.rsplit('/', 1)[-1]}: {latency:.1f} s")


def test_sensor_runs_and_materializations_are_visible_in_dagster(stack: Stack, ingested: dict) -> None:
    # The summary object is written just before its step reports the materialization: allow that moment.
    def recorded(data: dict) -> bool:
        runs = data["runsOrError"]["results"]
        settled = runs and all(run["status"] in ("SUCCESS", "FAILURE", "CANCELED") for run in runs)
        return bool(data["assetOrError"]["assetMaterializations"] and settled)

    data = poll(lambda: _materializations_and_kafka_runs(ingested["partition"]), recorded, 60)
    runs = data["runsOrError"]["results"]
    materializations = data["assetOrError"]["assetMaterializations"]
    assert materializations and materializations[0]["partition"] == ingested["partition"]
    images = {e["label"]: e.get("intValue") for e in materializations[-1]["metadataEntries"]}
    assert images["images"] >= 1
    assert runs and all(run["status"] == "SUCCESS" for run in runs)
    assert {run["runId"] for run in runs} >= {m["runId"] for m in materializations}


def _materializations_and_kafka_runs(partition: str) -> dict:
    return graphql(
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


@pytest.fixture(scope="module")
def conf03_backfill(stack: Stack, ingested: dict) -> dict:
    """The hour reprocessed under detector version conf03 (detector-versions.toml: confidence 0.3) as one backfill
    of its two assets, launched by `imgassets versions backfill` through Dagster's GraphQL API (as the UI's
    Materialize dialog does) and run by the stack's daemon. Returns the conf03/detections materialization's
    metadata, and the active version's records (key → bytes) as they were before."""
    from imgassets.core import layout

    partition = ingested["partition"]
    before = {key: stack.store.get(key).data for key in stack.store.list_keys(layout.detections_prefix(partition))}
    launched = cli(stack.env, "versions", "backfill", "conf03", "--from", partition, "--wait", timeout=600)
    assert launched.returncode == 0, launched.stdout + launched.stderr
    assert "COMPLETED_SUCCESS" in launched.stdout and "/compare?version=conf03" in launched.stdout, launched.stdout
    data = graphql(
        """query ($partition: String!) {
          assetOrError(assetKey: {path: ["conf03", "detections"]}) {
            ... on Asset { assetMaterializations(partitions: [$partition]) {
              metadataEntries { label ... on IntMetadataEntry { intValue } } } }
          }
        }""",
        {"partition": partition},
    )
    (materialization,) = data["assetOrError"]["assetMaterializations"]
    return {
        "metadata": {e["label"]: e.get("intValue") for e in materialization["metadataEntries"]},
        "active_before": before,
    }


def test_a_version_backfill_from_dagster_needs_no_forward_pass_and_leaves_the_active_records(
    stack: Stack, ingested: dict, conf03_backfill: dict
) -> None:
    from imgassets.core import layout
    from imgassets.core.records import Comparison, DetectionRecord

    partition = ingested["partition"]
    metadata, active = conf03_backfill["metadata"], conf03_backfill["active_before"]
    assert metadata["forward_passes"] == 0 and metadata["from_stored_candidates"] == len(active) == 5
    conf03 = stack.store.get_records(layout.version_detections_prefix("conf03", partition), DetectionRecord)
    assert len(conf03) == 5 and all(r.confidence_threshold == 0.3 for r in conf03)
    comparison = stack.store.get_record(layout.comparison_key("conf03", partition), Comparison)
    assert comparison.images == 5 and comparison.recall == 1.0
    assert comparison.objects_b == sum(len(r.detections) for r in conf03)
    after = {key: stack.store.get(key).data for key in stack.store.list_keys(layout.detections_prefix(partition))}
    assert after == active, "the active version's records changed"


def test_viewer_shows_the_results_in_a_real_browser(stack: Stack, ingested: dict, conf03_backfill: dict) -> None:
    from imgassets.core.settings import get_settings
    from imgassets.stack import services

    # The tests also ask the query endpoint directly, with the token the stack gave it and the viewer.
    settings = get_settings()
    token = services.query_token(settings, services.Paths(settings.home))
    env = stack.env | {
        "VIEWER_URL": f"http://127.0.0.1:{PORTS['viewer']}",
        "IMGASSETS_CLI": IMGASSETS,
        "IMGASSETS_QUERY_TOKEN": token,
    }
    browser_tests(env, "viewer")


def test_status_up_again_and_busy_ports(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    status = cli(stack.env, "stack", "status", "--json")
    assert status.returncode == 0, status.stdout
    assert {row["service"]: row["state"] for row in json.loads(status.stdout)} == {
        "kafka": "healthy",
        "s3": "healthy",
        "dagster-code": "healthy",
        "dagster-webserver": "healthy",
        "dagster-daemon": "healthy",
        "query": "healthy",
        "viewer": "healthy",
    }
    again = cli(stack.env, "stack", "up", "--no-demo")
    assert again.returncode == 0 and "starting" not in again.stdout, again.stdout
    other_home = stack.env | {"IMGASSETS_HOME": str(tmp_path / "other")}
    clash = cli(other_home, "stack", "up", "--no-demo", "--no-viewer")
    assert clash.returncode != 0 and "already in use" in clash.stderr, clash.stderr


def test_dagster_killed_mid_run_loses_nothing(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """The code server's and the daemon's whole process groups are SIGKILLed while a run executes, taking the run
    worker along: after both restart, run monitoring finds the worker gone, fails the run, and a retry completes
    it."""
    from imgassets.core.settings import get_settings
    from imgassets.stack import Stack as LocalStack

    folder = _photo_folder(tmp_path, "more", 20, first=50_000)
    local = LocalStack(get_settings())
    code, daemon = local.service("dagster-code"), local.service("dagster-daemon")
    runs_before = {run["runId"] for run in _runs({})}
    result = cli(stack.env, "ingest", str(folder))
    assert result.returncode == 0, result.stderr
    started = _await_new_run("STARTED", runs_before)
    for service in (code, daemon):
        pid = service.pid()
        assert pid is not None
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    time.sleep(1)
    assert code.pid() is None and daemon.pid() is None
    code.start()
    code.wait_healthy(120)
    daemon.start()
    assert stack.wait_for_total(25) == 25  # across hours: the ingest may straddle an hour boundary
    # Unless the run had just finished when its worker died, it failed and a retry did its work.
    if _runs({"runIds": [started["runId"]]})[0]["status"] != "SUCCESS":
        print(
            f"\nrun {started['runId']} orphaned by the code server's death; automatic retries: "
            f"{_outcomes(_await_successful_retry(started))}"
        )


def _await_new_run(status: str, known: set[str], timeout: float = 120, without_tag: str | None = None) -> dict:
    """The first run not in `known` that has `status` (and not the tag `without_tag`, if given)."""

    def new() -> list[dict]:
        return [
            run
            for run in _runs({"statuses": [status]})
            if run["runId"] not in known and not (without_tag and _has_tag(run, without_tag))
        ]

    found = poll(new, bool, timeout, every=0.1)
    assert found, f"no new run reached {status} within {timeout} s"
    return found[0]


def _runs(filter_: dict) -> list[dict]:
    query = """query ($filter: RunsFilter) { runsOrError(filter: $filter) {
      ... on Runs { results { runId status tags { key value } } } } }"""
    return graphql(query, {"filter": filter_})["runsOrError"]["results"]


def test_a_failed_run_is_retried_by_dagster_and_completes(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """S3 is down when a sensor run starts: the run fails after bounded S3 retries, Dagster's run-retry daemon
    re-executes it from the failure on its own, and once S3 is back the retry completes the batch."""
    from imgassets.core.settings import get_settings
    from imgassets.stack import Stack as LocalStack
    from imgassets_tests.conftest import _wait_bucket_ready

    local = LocalStack(get_settings())
    daemon, s3 = local.service("dagster-daemon"), local.service("s3")
    before = stack.summarised()
    failed_before = {run["runId"] for run in _runs({"statuses": ["FAILURE"]})}
    folder = _photo_folder(tmp_path, "retry", 12, first=60_000)
    daemon.stop()  # no sensor tick until S3 is down
    try:
        result = cli(stack.env, "ingest", str(folder))
        assert result.returncode == 0 and "sent 12," in result.stdout, result.stdout + result.stderr
        s3.stop()
        daemon.start()
        failed = _await_new_run("FAILURE", failed_before, 180, without_tag="dagster/parent_run_id")
    finally:
        _restart_s3_with_capacity(s3)
        _wait_bucket_ready(stack.store)
    assert stack.wait_for_total(before + 12) == before + 12
    retries = _await_successful_retry(failed)
    _account(stack, "whole stack: code server + daemon SIGKILL; S3 down, run auto-retried")
    print(f"\nrun {failed['runId']} failed with S3 down; automatic retries: {_outcomes(retries)}")


def _run_workers(code_pid: int) -> list:
    """The stack's run worker processes: each forked, for its run, by the code server's warm forkserver
    (imgassets/stack/warm_code_server.py). Forked processes keep the forkserver's command line, so the forkserver
    is the one whose parent has another."""
    import psutil

    def forked(process: psutil.Process) -> bool:
        return "multiprocessing.forkserver" in " ".join(process.cmdline())

    workers = []
    for process in psutil.Process(code_pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = process.parent()
            if forked(process) and not forked(parent):
                workers.extend(process.children())
    return workers


def test_a_killed_run_worker_fails_its_run_and_dagster_retries_it(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """The run worker processes are SIGKILLed mid-run (what the kernel's OOM killer does): the code server that
    launched each reports its run failed, Dagster's run retries re-execute them, and the batch completes. The
    stack runs two at once, so a second run of the batch may be under way and is killed too."""

    from imgassets.core.settings import get_settings
    from imgassets.stack import Stack as LocalStack

    code = LocalStack(get_settings()).service("dagster-code")
    before = stack.summarised()
    runs_before = {run["runId"] for run in _runs({})}
    _ingest_photos(stack, tmp_path, "killed", 150, first=70_000)

    run = _await_new_run("STARTED", runs_before)
    pid = code.pid()
    assert pid is not None
    workers = _run_workers(pid)
    assert 1 <= len(workers) <= get_settings().max_concurrent_runs, workers
    for worker in workers:
        worker.kill()
    status = poll(lambda: _runs({"runIds": [run["runId"]]})[0]["status"], lambda s: s == "FAILURE", 60, every=0.5)
    assert status == "FAILURE"
    retries = _await_successful_retry(run)
    assert stack.wait_for_total(before + 150) == before + 150
    _account(stack, "whole stack: + run worker SIGKILL, run auto-retried")
    print(f"\nrun {run['runId']} lost its worker (SIGKILL); automatic retries: {_outcomes(retries)}")


def _restart_s3_with_capacity(s3, attempts: int = 3) -> None:
    """Starts the stopped S3 server again. SeaweedFS sometimes comes back from a restart with no volume capacity
    (its master reports Max 0 and every read fails with "volume 1 not found" until the next restart), so a
    start whose master never reports capacity is stopped and started again."""
    from imgassets.core.settings import get_settings
    from imgassets.stack import services

    status_url = f"http://127.0.0.1:{services.s3_ports(get_settings())['master']}/dir/status"

    def capacity() -> int:
        try:
            with urllib.request.urlopen(status_url, timeout=5) as response:
                return int(json.loads(response.read())["Topology"]["Max"])
        except (OSError, ValueError, KeyError):
            return 0

    for _ in range(attempts):
        s3.start()
        s3.wait_healthy(60)
        if poll(capacity, lambda found: found > 0, 15) > 0:
            return
        s3.stop()
    raise AssertionError(f"S3 came back without volume capacity {attempts} times; see {s3.log_file}")


def _ingest_photos(stack: Stack, tmp_path: Path, name: str, count: int, first: int) -> None:
    """Ingests `count` new photos through the CLI, checking every one was sent."""
    result = cli(stack.env, "ingest", str(_photo_folder(tmp_path, name, count, first)))
    assert result.returncode == 0 and f"sent {count}," in result.stdout, result.stdout + result.stderr


def _photo_folder(tmp_path: Path, name: str, count: int, first: int) -> Path:
    """`count` distinct real-content photos (never ingested before) in a new folder."""
    from imgassets.devtools.bench_photos import synthetic_photos

    folder = tmp_path / name
    folder.mkdir()
    for index, data in enumerate(synthetic_photos(count, first=first)):
        (folder / f"{name}-{index}.jpg").write_bytes(data)
    return folder


def _await_successful_retry(failed: dict, timeout: float = 90) -> list[dict]:
    """Dagster's automatic retries of a failed run, once one of them has succeeded."""
    assert {"key": "dagster/max_retries", "value": "2"} in failed["tags"]
    # A run's summary lands a moment before it reports success, so wait for the success itself.
    retries = poll(
        lambda: _runs({"tags": [{"key": "dagster/root_run_id", "value": failed["runId"]}]}),
        lambda found: any(run["status"] == "SUCCESS" for run in found),
        timeout,
    )
    assert retries, "Dagster did not retry the failed run"
    assert all(
        {"key": "dagster/retry_number", "value": str(n)} in run["tags"]
        for n, run in enumerate(sorted(retries, key=lambda r: _tag(r, "dagster/retry_number")), start=1)
    )
    assert any(run["status"] == "SUCCESS" for run in retries), retries
    return retries


def _outcomes(retries: list[dict]) -> str:
    return ", ".join(f"#{_tag(r, 'dagster/retry_number')} {r['status']}" for r in retries)


def _account(stack: Stack, scenario: str) -> None:
    """A reliability-report row over every message the e2e stack has received so far."""
    from imgassets.core.settings import get_settings

    settings = get_settings()
    helpers.account(scenario, stack.store, settings.kafka_topic, settings.kafka_dlq_topic)


def _tag(run: dict, key: str) -> str:
    return next(tag["value"] for tag in run["tags"] if tag["key"] == key)


def _has_tag(run: dict, key: str) -> bool:
    return any(tag["key"] == key for tag in run["tags"])


def _dead_letters() -> list[dict]:
    from imgassets.core.settings import get_settings

    return [d for d in helpers.read_all(get_settings().kafka_dlq_topic) if isinstance(d, dict)]


def test_poison_messages_are_dead_lettered_while_the_sensor_keeps_going(
    stack: Stack, ingested: dict, tmp_path: Path
) -> None:
    """Poison messages among good ones on the live stack: the sensor keeps ticking, the good images get
    detections, the poison goes to the DLQ with its reason."""
    from imgassets.core.settings import get_settings

    before, dead_before = stack.summarised(), len(_dead_letters())
    producer = helpers.Deployment(get_settings()).producer()
    poison = [b"[" * 10_000, b"\x00\xff\xfe", json.dumps({"schema": "imgassets.image.v1", "key": 7}).encode()]
    for value in poison:
        producer.send(get_settings().kafka_topic, value=value)
    producer.flush()
    producer.close()
    _ingest_photos(stack, tmp_path, "poison", 6, first=80_000)
    assert stack.wait_for_total(before + 6) == before + 6
    new = _dead_letters()[dead_before:]
    assert len(new) == len(poison) and all(d["kind"] == "message" and d["reason"] for d in new), new
    assert any("RecursionError" in d["reason"] or "nested" in d["reason"] for d in new), [d["reason"] for d in new]
    _account(stack, "whole stack: poison messages among good ones")


def test_images_that_raise_cost_only_themselves(stack: Stack, ingested: dict, tmp_path: Path, webhook) -> None:
    """A batch with images that used to raise unexpected exceptions (every regression input the fuzzers found,
    and a 32-bit float TIFF that Pillow reads and OpenCV cannot) among good photos: the good ones get
    detections, each bad one a rejection record with its reason; the failed rejection-rate check alerts."""
    from PIL import Image

    from imgassets.core import layout
    from imgassets.core.records import Rejection

    folder = _photo_folder(tmp_path, "mixed", 3, first=85_000)
    bad = [
        path
        for path in sorted((PROJECT_ROOT / "imgassets_tests" / "regressions" / "images").glob("*"))
        if path.suffix != ".md"
    ]
    for path in bad:
        shutil.copy(path, folder / f"bad-{path.stem}.jpg")
    Image.fromarray(np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)).save(folder / "float32.tif")
    before = stack.handled()
    result = cli(stack.env, "ingest", str(folder))
    assert result.returncode in (0, 1), result.stderr
    sent = int(result.stdout.split("sent ", 1)[1].split(",", 1)[0])
    assert sent >= 4, result.stdout
    assert poll(stack.handled, lambda n: n >= before + sent, 240) == before + sent
    partitions = {layout.parse_image_key(k).partition for k in _announced_keys("mixed-")}
    rejections = [
        stack.store.get_record(k, Rejection)
        for p in partitions
        for k in stack.store.list_keys(layout.rejections_prefix(p))
    ]
    float_rejection = next(r for r in rejections if r.image_key.endswith("-float32.tif"))
    print(f"\nrejected: {[(r.image_key.rsplit('/', 1)[-1], r.reason) for r in rejections]}")
    assert float_rejection.reason
    assert poll(webhook.texts, lambda texts: any("rejection_rate_below_threshold" in t for t in texts), 30)
    _account(stack, "whole stack: images raising unexpected errors in a batch")


def _announced_keys(fragment: str) -> list[str]:
    from imgassets.core.settings import get_settings

    return [
        m["key"]
        for m in helpers.read_all(get_settings().kafka_topic)
        if isinstance(m, dict) and fragment in str(m.get("key", ""))
    ]


def test_a_cancelled_run_has_its_batch_requested_again(stack: Stack, ingested: dict, tmp_path: Path) -> None:
    """A sensor run cancelled while it runs: the run status sensor requests its batch again under a key derived
    from the original one, and every message of the batch ends with a record."""
    before = stack.summarised()
    runs_before = {run["runId"] for run in _runs({})}
    _ingest_photos(stack, tmp_path, "cancel", 120, first=90_000)
    run = _await_new_run("STARTED", runs_before)
    terminated = graphql(
        "mutation ($runId: String!) { terminateRun(runId: $runId) { __typename } }", {"runId": run["runId"]}
    )
    assert terminated["terminateRun"]["__typename"] == "TerminateRunSuccess", terminated
    status = poll(lambda: _runs({"runIds": [run["runId"]]})[0]["status"], lambda s: s == "CANCELED", 60, every=0.5)
    assert status == "CANCELED"
    assert stack.wait_for_total(before + 120) == before + 120
    requeued = _runs({"tags": [{"key": "imgassets/batch_key", "value": _tag(run, "dagster/run_key")}]})
    assert [_tag(r, "dagster/run_key") for r in requeued] == [f"{_tag(run, 'dagster/run_key')}/requeue-1"]
    _account(stack, "whole stack: run cancelled mid-run, batch re-requested")


def test_a_batch_whose_runs_all_fail_is_dead_lettered_and_replayed(
    stack: Stack, ingested: dict, tmp_path: Path, webhook
) -> None:
    """Every run of a batch is killed (a poison image that takes its worker down, say): Dagster's retries and
    the re-request all fail, so each message of the batch goes to the DLQ with "run <id> failed: …" and an
    alert fires. After the fix, `imgassets dlq replay` brings them all to detections, idempotently."""
    import psutil

    from imgassets.core.settings import get_settings
    from imgassets.stack import Stack as LocalStack

    code = LocalStack(get_settings()).service("dagster-code")
    before = stack.summarised()
    started_at = datetime.now(UTC)
    stop = threading.Event()
    killed: list[int] = []

    def kill_run_workers() -> None:
        while not stop.is_set():
            pid = code.pid()
            for process in _run_workers(pid) if pid else []:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
                    killed.append(process.pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_run_workers, daemon=True)
    killer.start()
    try:
        _ingest_photos(stack, tmp_path, "doomed", 8, first=95_000)
        keys = set(_announced_keys("doomed-"))
        letters = poll(
            lambda: [d for d in _dead_letters() if d.get("kind") == "batch" and d.get("image_key") in keys],
            lambda found: {d["image_key"] for d in found} == keys,
            420,
            every=2,
        )
    finally:
        stop.set()
        killer.join()
    assert {d["image_key"] for d in letters} == keys, f"{len(letters)} of 8 dead-lettered; killed {len(killed)} workers"
    assert all(d["reason"].startswith(f"run {d['run_id']} failed: ") for d in letters)
    texts = poll(webhook.texts, lambda found: any("dead-lettered" in t for t in found), 30)
    assert any("ended FAILURE" in t and "requested again" in t for t in texts), texts
    print(f"\nbatch dead-lettered after {len(killed)} run workers were killed: {letters[0]['reason'][:160]}")
    _account(stack, "whole stack: every run of a batch killed, dead-lettered")

    listed = cli(stack.env, "dlq", "list", "--kind", "batch", "--since", started_at.isoformat())
    assert listed.returncode == 0 and listed.stdout.count("doomed-") >= 8, listed.stdout + listed.stderr
    replayed = cli(stack.env, "dlq", "replay", "--kind", "batch", "--since", started_at.isoformat())
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert stack.wait_for_total(before + 8) == before + 8
    _account(stack, "whole stack: + DLQ replay of that batch")


def test_failed_sensor_ticks_raise_an_alert(stack: Stack, ingested: dict, webhook) -> None:
    """Kafka down: the sensor's ticks fail (an infrastructure error, the cursor stays); after
    IMGASSETS_ALERT_FAILED_TICKS (2 here) in a row, one alert."""
    from imgassets.core.settings import get_settings
    from imgassets.stack import Stack as LocalStack

    kafka = LocalStack(get_settings()).service("kafka")
    kafka.stop()
    try:
        texts = poll(webhook.texts, lambda found: any("failed ticks in a row" in t for t in found), 120, every=1)
    finally:
        kafka.start()
        kafka.wait_healthy(120)
    assert any("kafka_image_sensor: 2 failed ticks in a row" in t for t in texts), texts


def test_no_secret_in_any_service_log(stack: Stack, ingested: dict) -> None:
    secrets = [stack.env["IMGASSETS_S3_SECRET_ACCESS_KEY"], stack.env["IMGASSETS_ALERT_WEBHOOK_URL"].rsplit("/", 1)[1]]
    logs = Path(stack.env["IMGASSETS_HOME"]) / "logs"
    for log in logs.glob("*.log"):
        text = log.read_text(errors="replace")
        assert not any(secret in text for secret in secrets), log


def test_restart_keeps_kafka_s3_and_dagster_state(stack: Stack, ingested: dict) -> None:
    assert cli(stack.env, "stack", "down").returncode == 0
    restarted = cli(stack.env, "stack", "up", "--no-demo")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    from imgassets.core import layout

    assert stack.store.get_json(layout.summary_key(ingested["partition"]))["image_count"] >= 5
    runs = graphql("{ runsOrError { ... on Runs { results { runId } } } }", {})["runsOrError"]["results"]
    assert runs, "run history lost across restart"
    # The sensor resumes from its persisted cursor: no old message launches a run again.
    before = len(runs)
    time.sleep(12)  # two sensor ticks
    after = graphql("{ runsOrError { ... on Runs { results { runId } } } }", {})["runsOrError"]["results"]
    assert len(after) == before
