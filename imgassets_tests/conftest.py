"""Test fixtures: a real Apache Kafka broker and a real SeaweedFS S3 server, started once per session on
ports of their own (so a running dev stack is left alone), plus fresh topics and buckets per test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from imgassets.core.settings import PROJECT_ROOT, Settings
from imgassets.detector.postprocess import Thresholds

if TYPE_CHECKING:
    import numpy as np

    from imgassets.core.storage import ObjectStore
    from imgassets_tests.helpers import Deployment

PHOTOS = PROJECT_ROOT / "data" / "photos"
#: The original project's thresholds, which the default detector version has.
THRESHOLDS = Thresholds(confidence=0.5, nms=0.4)


def read_image(path: Path) -> np.ndarray:
    """The image at `path` as OpenCV decodes it (BGR); fails when OpenCV cannot read it."""
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, f"OpenCV cannot read {path}"
    return image


# Ports of the test services (the dev stack uses 9092/8333/3000/3001). With their derived ports (SeaweedFS: up to
# +11013) they stay below the ephemeral range (32768+), where a recent client connection can hold a port.
#: IMGASSETS_TEST_PORT_OFFSET shifts them all, so two test runs on one machine do not collide.
PORT_OFFSET = int(os.environ.get("IMGASSETS_TEST_PORT_OFFSET", "0"))


def stack_ports(kafka: int, s3: int, dagster: int) -> dict[str, int]:
    """A test stack's ports, shifted by PORT_OFFSET: the viewer, query endpoint and code server follow Dagster's."""
    ports = {"kafka": kafka, "s3": s3, "dagster": dagster, "viewer": dagster + 1, "query": dagster + 2}
    return {name: port + PORT_OFFSET for name, port in (ports | {"dagster_code": dagster + 3}).items()}


TEST_PORTS = stack_ports(kafka=7092, s3=6333, dagster=6100)
TEST_ACCESS_KEY = f"test-{secrets.token_hex(4)}"
TEST_SECRET_KEY = secrets.token_urlsafe(24)
#: Rows of the reliability report (test_reliability.py, test_e2e.py), printed at the end of the run.
#: The whole local stack, shared by the end-to-end modules.
pytest_plugins = ["imgassets_tests.e2e_stack"]

REPORT: list[dict] = []
#: Figures measured by tests (benchmark lines: timings are printed, never asserted), shown after the run.
FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("figures")
        for line in FIGURES:
            terminalreporter.write_line(line)
    if not REPORT:
        return
    columns = ["sent", "detections", "rejections", "dead_lettered", "lost", "duplicates"]
    terminalreporter.section("reliability report")
    terminalreporter.write_line(f"{'scenario':56} " + " ".join(f"{c:>13}" for c in columns))
    for row in REPORT:
        terminalreporter.write_line(f"{row['scenario']:56} " + " ".join(f"{row[c]:>13}" for c in columns))


def _base_env(home: Path, ports: dict[str, int]) -> dict[str, str]:
    return {
        "IMGASSETS_ENV_FILE": "/dev/null",
        "IMGASSETS_HOME": str(home),
        "IMGASSETS_S3_ENDPOINT_URL": f"http://127.0.0.1:{ports['s3']}",
        "IMGASSETS_S3_BUCKET": "imgassets",
        "IMGASSETS_S3_ACCESS_KEY_ID": TEST_ACCESS_KEY,
        "IMGASSETS_S3_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
        "IMGASSETS_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{ports['kafka']}",
        "IMGASSETS_DAGSTER_PORT": str(ports["dagster"]),
        "IMGASSETS_DAGSTER_CODE_PORT": str(ports["dagster_code"]),
        "IMGASSETS_VIEWER_PORT": str(ports["viewer"]),
        "IMGASSETS_DAGSTER_URL": f"http://127.0.0.1:{ports['dagster']}",
        "IMGASSETS_VIEWER_URL": f"http://127.0.0.1:{ports['viewer']}",
        "IMGASSETS_QUERY_PORT": str(ports["query"]),
        "IMGASSETS_QUERY_URL": f"http://127.0.0.1:{ports['query']}",
        "IMGASSETS_PARTITIONS_START": "2025-01-01-00:00",
    }


@pytest.fixture(scope="session")
def test_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("imgassets-home")


@pytest.fixture(scope="session", autouse=True)
def test_settings(test_home: Path) -> Iterator[None]:
    """Every test sees settings that point at the test services."""
    from imgassets.core.settings import get_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("IMGASSETS_")}
    for key in saved:
        del os.environ[key]
    os.environ.update(_base_env(test_home, TEST_PORTS))
    get_settings.cache_clear()
    yield
    for key in [k for k in os.environ if k.startswith("IMGASSETS_")]:
        del os.environ[key]
    os.environ.update(saved)
    get_settings.cache_clear()


@contextmanager
def _running(name: str, timeout: float) -> Iterator[Settings]:
    """Runs the stack's service `name` (a real server process) for the duration of a fixture."""
    from imgassets.core.settings import get_settings
    from imgassets.stack import services

    settings = get_settings()
    paths = services.Paths(settings.home)
    prepare, make = {
        "kafka": (services.prepare_kafka, services.kafka_service),
        "s3": (services.prepare_s3, services.s3_service),
    }[name]
    prepare(settings, paths)
    service = make(settings, paths)
    service.start()
    try:
        service.wait_healthy(timeout)
        yield settings
    finally:
        service.stop()


@pytest.fixture(scope="session")
def kafka_broker(test_settings: None) -> Iterator[str]:
    """A real single-node KRaft Apache Kafka broker; yields its bootstrap address."""
    with _running("kafka", 120) as settings:
        yield settings.kafka_bootstrap_servers


@pytest.fixture(scope="session")
def s3_server(test_settings: None) -> Iterator[str]:
    """A real SeaweedFS S3 server checking signatures; yields its endpoint."""
    from imgassets.core.storage import ObjectStore

    with _running("s3", 60) as settings:
        _wait_bucket_ready(ObjectStore.from_settings(settings))
        yield str(settings.s3_endpoint_url)


def _wait_bucket_ready(store: ObjectStore, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            store.ensure_bucket()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@dataclass
class Topics:
    images: str
    dlq: str


@pytest.fixture
def topics(kafka_broker: str) -> Topics:
    """Fresh image (3 partitions) and dead-letter topics on the real broker for one test."""
    from imgassets.core import kafka_io
    from imgassets.core.settings import get_settings

    suffix = uuid.uuid4().hex[:8]
    created = Topics(f"images-{suffix}", f"images-{suffix}.dlq")
    kafka_io.ensure_topics(
        get_settings().model_copy(
            update={"kafka_topic": created.images, "kafka_dlq_topic": created.dlq, "kafka_topic_partitions": 3}
        )
    )
    return created


@pytest.fixture
def bucket(s3_server: str) -> str:
    """A fresh bucket on the real S3 server for one test."""
    from imgassets.core.settings import get_settings
    from imgassets.core.storage import ObjectStore

    name = f"t-{uuid.uuid4().hex[:12]}"
    ObjectStore.from_settings(get_settings().model_copy(update={"s3_bucket": name})).ensure_bucket()
    return name


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """This test's deployment: the test services, with the test's own topics and bucket when it asks for them.
    Tests configure the code through the resources and clients it builds, never through the environment."""
    from imgassets.core.settings import get_settings
    from imgassets_tests.helpers import Deployment

    values: dict[str, object] = {}
    if "topics" in request.fixturenames:
        names: Topics = request.getfixturevalue("topics")
        values |= {"kafka_topic": names.images, "kafka_dlq_topic": names.dlq, "kafka_topic_partitions": 3}
    if "bucket" in request.fixturenames:
        values["s3_bucket"] = request.getfixturevalue("bucket")
    return Deployment(get_settings(), values)


@pytest.fixture
def store(bucket: str, deployment: Deployment) -> ObjectStore:
    return deployment.store()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder with the real demo photos (a copy, so tests may add files)."""
    folder = tmp_path / "photos"
    shutil.copytree(PHOTOS, folder, ignore=shutil.ignore_patterns("*.md"))
    return folder
