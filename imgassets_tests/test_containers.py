"""The production path, run for real: both images built from the repository's Dockerfiles, the compose deployment
started with Docker Compose against a container engine (Podman's Docker API, imgassets_tests/containers.py), in the
remote-services topology: Kafka, S3 and PostgreSQL are not compose services but servers elsewhere (here the local
stack's broker and SeaweedFS and a Debian PostgreSQL, listening on this machine's own network address).

What a user does, in order: build, `up`, ingest photos from their machine with the CLI, look at the viewer, launch
a backfill, survive a daemon crash, `down` and `up` again. Each test asserts on the values the user gave (the
source name, the photos' labels); the figures (build time, image sizes, latency and drain rate against the local
stack in the same run) are printed and kept in test-artifacts/deploy-figures.json, never asserted.

`make test-deploy` runs this module alone.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest

from imgassets.core import kafka_io, layout
from imgassets.core.records import DetectionRecord, Summary
from imgassets.core.settings import PROJECT_ROOT, Settings, hash_viewer_password, load_settings
from imgassets.core.storage import ObjectStore
from imgassets.devtools import bench
from imgassets.devtools.bench_photos import synthetic_photos
from imgassets.devtools.bench_uploads import await_detections, read_records
from imgassets.ingest import announce
from imgassets.stack import Stack, dagster_api
from imgassets_tests import containers
from imgassets_tests.conftest import _base_env, stack_ports
from imgassets_tests.e2e_stack import browser_tests, cli, poll
from imgassets_tests.postgres import running_postgres

pytestmark = [pytest.mark.e2e, pytest.mark.deploy]

PHOTOS = PROJECT_ROOT / "data" / "photos"
SOURCE = "cam-deploy"
#: Ports of the "remote" services on this machine's address, and of the deployment's published ports.
KAFKA_PORT, S3_PORT, PG_PORT = 19292, 18733, 25434
DAGSTER_PORT, VIEWER_PORT = 13200, 13201
VIEWER_USER, VIEWER_PASSWORD = "operator", "a long deploy-test password"
DRAIN_IMAGES = 200
FIGURES: dict[str, object] = {}


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a process started with `env` reads."""
    with mock.patch.dict(os.environ, env, clear=True):
        return load_settings()


def host_address() -> str:
    """This machine's first non-loopback IPv4 address: where containers reach the "remote" services."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=True).stdout.split()
    for address in found:
        if "." in address and not address.startswith("127."):
            return address
    pytest.fail(f"no non-loopback IPv4 address on this machine (hostname -I: {found})")


@dataclass
class Deployment:
    compose: containers.Compose
    engine: containers.Podman
    #: The host CLI's environment: the same Kafka, S3 and Dagster as the containers, from this machine.
    env: dict[str, str]
    settings: Settings
    #: When the deployment was started (epoch seconds).
    started: float

    @property
    def dagster_url(self) -> str:
        return f"http://127.0.0.1:{DAGSTER_PORT}"

    def store(self) -> ObjectStore:
        return ObjectStore.from_settings(self.settings)

    def run_containers(self) -> dict[str, list[dict]]:
        """The containers the run launcher started (each removed when its run ended), by the Dagster run each
        executed."""
        found: dict[str, list[dict]] = {}
        for container in self.engine.started(self.started, "label=imgassets/role=run-worker"):
            found.setdefault(container["Attributes"]["dagster/run_id"], []).append(container)
        return found

    def records(self, keys: list[str], timeout: float = 300) -> list[DetectionRecord]:
        """The detection records of these images, once all exist."""
        detection_keys = await_detections(self.store(), keys, timeout)
        return read_records(self.store(), detection_keys)

    def wait_healthy(self) -> dict[str, str]:
        """Each service's state once every long-running one is healthy and the one-shots have exited."""
        return poll(
            self.compose.state,
            lambda s: all(v.startswith("exited") or v == "running healthy" for v in s.values()),
            timeout=240,
            every=2,
        )

    def records_present(self, keys: list[str]) -> list[str]:
        """Which of these images have a detection record now."""
        store = self.store()
        return [k for k in keys if store.head(layout.parse_image_key(k).detection_key) is not None]

    def ingest(self, folder: Path, source: str = SOURCE) -> list[str]:
        """`imgassets ingest --source SOURCE FOLDER` on this machine, as a user types it; the image keys sent."""
        result = cli(self.env, "ingest", "--source", source, str(folder))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"sent {len(list(folder.glob('*.jpg')))}," in result.stdout, result.stdout
        return sent_keys(self.store(), source, since=time.time() - 120)


def sent_keys(store: ObjectStore, source: str, since: float) -> list[str]:
    """Keys of the images of `source` uploaded since `since` (epoch seconds), from their S3 metadata."""
    keys = []
    hours = {layout.partition_key(datetime.fromtimestamp(t, UTC)) for t in (since, time.time())}
    for partition in hours:
        for key in store.list_keys(layout.images_prefix(partition)):
            if (store.head(key) or {}).get("Metadata", {}).get("source-name") == source:
                keys.append(key)
    return keys


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[containers.Podman]:
    with containers.podman_engine(tmp_path_factory.mktemp("podman")) as found:
        yield found


@pytest.fixture(scope="module")
def images(engine: containers.Podman, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Both images, built from the repository's Dockerfiles on stand-in base images."""
    started = time.monotonic()
    bases = containers.standin_bases(engine, tmp_path_factory.mktemp("bases"))
    built = {"base images built now": bases, "base images s": round(time.monotonic() - started, 1)}
    for name, dockerfile, tag in (
        ("code", "docker/Dockerfile", containers.CODE_IMAGE),
        ("viewer", "docker/Dockerfile.viewer", containers.VIEWER_IMAGE),
    ):
        built[f"{name} image build s"] = round(containers.build(engine, dockerfile, tag), 1)
        built[f"{name} image MB"] = round(engine.image_size(tag) / 1e6)
    FIGURES.update(built)
    return built


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Kafka, S3 and PostgreSQL as a deployment finds them outside its compose project: at an address, with
    credentials. Returns their settings."""
    address = host_address()
    home = tmp_path_factory.mktemp("remote-services")
    env = {
        "IMGASSETS_ENV_FILE": "/dev/null",
        "IMGASSETS_HOME": str(home),
        "IMGASSETS_KAFKA_BOOTSTRAP_SERVERS": f"{address}:{KAFKA_PORT}",
        "IMGASSETS_S3_ENDPOINT_URL": f"http://{address}:{S3_PORT}",
        "IMGASSETS_S3_ACCESS_KEY_ID": "deploy-" + secrets.token_hex(6),
        "IMGASSETS_S3_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
    }
    services = Stack(settings_of(env))
    services.up_storage(log=lambda line: None)
    try:
        with running_postgres(address, PG_PORT) as postgres:
            yield env | postgres.env()
    finally:
        services.down(log=lambda line: None)


@pytest.fixture(scope="module")
def deployment(
    engine: containers.Podman, images: dict, remote: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """`docker compose up -d` with no bundled service profile: every service talks to the remote ones."""
    project = tmp_path_factory.mktemp("compose-project")
    (project / "certs").mkdir()
    token = secrets.token_urlsafe(24)
    overrides = {
        "COMPOSE_PROFILES": "",
        "DOCKER_GID": "0",
        "DOCKER_SOCKET": str(engine.socket),
        "IMGASSETS_IMAGE": containers.CODE_IMAGE,
        "IMGASSETS_VIEWER_IMAGE": containers.VIEWER_IMAGE,
        "DAGSTER_PUBLISH_PORT": str(DAGSTER_PORT),
        "VIEWER_PUBLISH_PORT": str(VIEWER_PORT),
        "IMGASSETS_QUERY_TOKEN": token,
        "IMGASSETS_VIEWER_AUTH": "login",
        "IMGASSETS_VIEWER_USER": VIEWER_USER,
        "IMGASSETS_VIEWER_PASSWORD_HASH": hash_viewer_password(VIEWER_PASSWORD),
        "IMGASSETS_VIEWER_SESSION_SECRET": secrets.token_urlsafe(32),
        **{k: v for k, v in remote.items() if k not in ("IMGASSETS_ENV_FILE", "IMGASSETS_HOME")},
    }
    lines = [
        line
        for line in (PROJECT_ROOT / ".env.example").read_text().splitlines()
        if line.partition("=")[0] not in overrides
    ]
    (project / ".env").write_text("\n".join([*lines, *(f"{k}={v}" for k, v in overrides.items())]) + "\n")
    compose = containers.Compose(engine, project)
    started, started_at = time.monotonic(), time.time()
    compose("up", "-d", "--no-build", timeout=900)
    FIGURES["compose up s"] = round(time.monotonic() - started, 1)
    host_env = (
        {k: v for k, v in os.environ.items() if not k.startswith("IMGASSETS_")}
        | remote
        | {"IMGASSETS_DAGSTER_PORT": str(DAGSTER_PORT), "IMGASSETS_VIEWER_PORT": str(VIEWER_PORT)}
    )
    found = Deployment(compose, engine, host_env, settings_of(host_env), started_at)
    try:
        found.wait_healthy()
        FIGURES["compose up until healthy s"] = round(time.monotonic() - started, 1)
        yield found
    finally:
        for service, state in compose.state().items():
            if "healthy" not in state and "exited" not in state:
                print(f"--- {service}: {state}\n{compose('logs', '--tail', '40', service, check=False).stdout}")
        compose("down", "--volumes", check=False)
        for container in engine.containers("label=imgassets/role=run-worker"):
            engine.run("rm", "-f", container["Id"], check=False)


def test_both_images_are_built_from_the_repositorys_dockerfiles(engine: containers.Podman, images: dict) -> None:
    version = engine.run("run", "--rm", containers.CODE_IMAGE, "dagster", "--version").stdout
    assert "1.13.27" in version
    user = engine.run("run", "--rm", containers.CODE_IMAGE, "id", "-u").stdout.strip()
    assert user == "10001"
    node = engine.run("run", "--rm", containers.VIEWER_IMAGE, "node", "--version").stdout
    assert node.startswith("v20.")


def test_every_service_comes_up_healthy_against_the_remote_services(deployment: Deployment) -> None:
    states = deployment.wait_healthy()
    assert states["init"].startswith("exited"), states
    assert {"kafka", "s3", "postgres"}.isdisjoint(states), states
    assert {"dagster-code", "dagster-webserver", "dagster-daemon", "query", "viewer"} <= set(states)
    # The daemon is Dagster's own, as shipped.
    daemon = deployment.engine.run("inspect", "--format", "{{json .Config.Cmd}}", "imgassets-dagster-daemon-1")
    assert json.loads(daemon.stdout)[:2] == ["dagster-daemon", "run"]


def test_photos_ingested_from_the_host_are_detected_by_run_containers(deployment: Deployment, tmp_path: Path) -> None:
    keys = deployment.ingest(PHOTOS)
    assert len(keys) == 5
    records = deployment.records(keys)
    assert {r.source for r in records} == {SOURCE}
    labels = {d.label for r in records for d in r.detections}
    assert {"dog", "horse", "person"} <= labels, labels
    # Every run that wrote a record ran in one container of its own, started by the run launcher.
    run_containers = deployment.run_containers()
    runs = {r.provenance.dagster_run_id for r in records}
    for run_id in runs:
        assert len(run_containers.get(run_id, [])) == 1, (run_id, sorted(run_containers))
        (container,) = run_containers[run_id]
        assert container["Image"] == containers.CODE_IMAGE, container
    # …and removed when it ended.
    assert deployment.engine.containers("label=imgassets/role=run-worker", "status=exited") == []
    # The hour's summary and tables, read as a user would.
    partition = layout.parse_image_key(keys[0]).partition
    summary = poll(
        lambda: _summary(deployment.store(), partition),
        lambda s: s is not None and s.source_counts.get(SOURCE, 0) >= 5,
        timeout=120,
    )
    assert summary is not None and summary.source_counts[SOURCE] == 5
    queried = cli(
        deployment.env,
        "query",
        "--last",
        "1d",
        "--format",
        "json",
        f"SELECT count(*) AS images FROM images WHERE source = '{SOURCE}'",
    )
    assert queried.returncode == 0, queried.stderr
    assert json.loads(queried.stdout.splitlines()[0])["images"] == 5
    FIGURES["runs for the 5 photos"] = len(runs)


def _summary(store: ObjectStore, partition: str) -> Summary | None:
    found = store.get_optional(layout.summary_key(partition))
    return None if found is None else Summary.model_validate_json(found.data)


def test_viewer_container_serves_the_hour_page_with_boxes_after_login(deployment: Deployment) -> None:
    keys = sent_keys(deployment.store(), SOURCE, since=time.time() - 3600)
    partition = layout.parse_image_key(sorted(keys)[0]).partition
    images = {r.image_key: dict(Counter(d.label for d in r.detections)) for r in deployment.records(keys)}
    env = os.environ | {
        "VIEWER_URL": f"http://127.0.0.1:{VIEWER_PORT}",
        "VIEWER_USER": VIEWER_USER,
        "VIEWER_PASSWORD": VIEWER_PASSWORD,
        "HOUR": partition,
        "SOURCE": SOURCE,
        "IMAGES": json.dumps(images),
    }
    browser_tests(env, "deploy")


@pytest.fixture
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A local stack of its own (`imgassets stack up`, no viewer), to compare with: the session's shared one keeps
    only the images its tests sent. Returns its environment."""
    home = tmp_path_factory.mktemp("local-stack")
    ports = stack_ports(kafka=19392, s3=18833, dagster=13300)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGASSETS_")} | _base_env(home, ports)
    started = cli(env, "stack", "up", "--no-demo", "--no-viewer")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield env
    finally:
        stopped = cli(env, "stack", "down")
        assert stopped.returncode == 0, stopped.stderr


def test_drain_in_containers_against_the_local_stack(deployment: Deployment, local_stack: dict[str, str]) -> None:
    """The same drain (N images waiting, then the sensor started) on the container deployment and on the local
    stack, in this run: figures, not asserts, except that every image is detected."""
    results = {}
    for name, env, first in (("containers", deployment.env, 0), ("local stack", local_stack, DRAIN_IMAGES)):
        settings = settings_of(env)
        store = ObjectStore.from_settings(settings)
        producer = kafka_io.make_producer(kafka_io.settings_client_config(settings))
        try:
            ingestor = announce.Ingestor(store, producer, settings.kafka_topic, f"drain-{name.split()[0]}")
            photos = synthetic_photos(DRAIN_IMAGES, first=1000 + first)
            results[name] = bench.drain(settings, ingestor, photos, f"deploy-{first}", log=lambda line: None)
        finally:
            producer.close()
        assert results[name]["images"] == DRAIN_IMAGES
    ours, local = results["containers"], results["local stack"]
    FIGURES["drain"] = results
    FIGURES["first result after the tick, containers / local"] = round(
        ours["first_result_s"] / local["first_result_s"], 2
    )
    FIGURES["drain rate, containers / local"] = round(ours["images_per_s"] / local["images_per_s"], 2)


def test_a_backfill_launched_through_graphql_runs_in_containers(deployment: Deployment) -> None:
    keys = sent_keys(deployment.store(), SOURCE, since=time.time() - 3600)
    partition = layout.parse_image_key(keys[0]).partition
    before = set(deployment.run_containers())
    backfill = dagster_api.launch_backfill(
        deployment.dagster_url, [["detections"], ["detection_summary"]], [partition], "deploy test"
    )
    state = poll(
        lambda: dagster_api.backfill_state(deployment.dagster_url, backfill),
        lambda s: s.status in dagster_api.FINAL_STATES,
        timeout=300,
        every=2,
    )
    if state.status not in ("COMPLETED", "COMPLETED_SUCCESS"):
        daemon_log = deployment.compose("logs", "--no-color", "--tail", "80", "dagster-daemon", check=False)
        pytest.fail(
            f"backfill ended {state.status}: {state.error}\n--- daemon log ---\n{daemon_log.stdout}{daemon_log.stderr}"
        )
    runs = dagster_api.graphql(
        deployment.dagster_url,
        """query ($id: String!) { runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
             ... on Runs { results { runId status } } } }""",
        {"id": backfill},
    )["runsOrError"]["results"]
    assert runs and all(run["status"] == "SUCCESS" for run in runs), runs
    started = set(deployment.run_containers()) - before
    assert {run["runId"] for run in runs} <= started


def test_a_killed_daemon_restarts_and_nothing_is_lost(deployment: Deployment, tmp_path: Path) -> None:
    deployment.engine.run("kill", "imgassets-dagster-daemon-1")
    # Photos arrive while the daemon is down: new bytes, so they are new images.
    folder = tmp_path / "while-down"
    folder.mkdir()
    for i, photo in enumerate(synthetic_photos(6)):
        (folder / f"frame-{i}.jpg").write_bytes(photo)
    keys = deployment.ingest(folder, source="cam-daemon-down")
    assert len(keys) == 6
    time.sleep(5)
    assert not deployment.records_present(keys)
    deployment.compose("up", "-d", "--no-build", "dagster-daemon")
    records = deployment.records(keys)
    assert sorted(r.image_key for r in records) == sorted(keys)
    assert {r.source for r in records} == {"cam-daemon-down"}


def test_down_and_up_keep_every_result(deployment: Deployment) -> None:
    store = deployment.store()
    keys = sent_keys(store, SOURCE, since=time.time() - 3600)
    runs_before = _run_count(deployment)
    deployment.compose("down")
    assert deployment.engine.containers("label=com.docker.compose.project=imgassets") == []
    deployment.compose("up", "-d", "--no-build", timeout=900)
    deployment.wait_healthy()
    assert len(deployment.records(keys, timeout=30)) == len(keys)
    assert _run_count(deployment) == runs_before


def _run_count(deployment: Deployment) -> int | None:
    try:
        found = dagster_api.graphql(deployment.dagster_url, "{ runsOrError { ... on Runs { count } } }")
    except Exception:
        return None
    return found["runsOrError"]["count"]


def test_figures(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints what was measured (and keeps it in test-artifacts/)."""
    out = PROJECT_ROOT / "test-artifacts" / "deploy-figures.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(FIGURES, indent=2))
    with capsys.disabled():
        print("\ncontainer deployment figures:\n" + json.dumps(FIGURES, indent=2))
    assert "code image MB" in FIGURES
