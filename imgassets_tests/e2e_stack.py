"""The whole local stack for end-to-end tests, started once per session with the project's own command
(`imgassets stack up`) and shared by every module that drives it (test_e2e, test_journeys)."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from imgassets.core.settings import PROJECT_ROOT
from imgassets.core.sources import DEFAULT_FILE as SOURCES_FILE
from imgassets.detector.versions import DEFAULT_FILE
from imgassets_tests import helpers
from imgassets_tests.conftest import _base_env, stack_ports

PORTS = stack_ports(kafka=19092, s3=18433, dagster=13000)
IMGASSETS = str(Path(sys.executable).with_name("imgassets"))
T = TypeVar("T")


def cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IMGASSETS, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT, check=False
    )


def graphql(query: str, variables: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORTS['dagster']}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


def browser_tests(env: dict[str, str], suite: str) -> None:
    """Runs one suite of the viewer's browser tests with `env`: a Playwright project of frontend/playwright.config.ts
    (viewer, journeys, security or deploy; its specs in frontend/e2e/<suite>/); fails with its output if any failed."""
    result = subprocess.run(
        ["npx", "--no", "playwright", "test", "--config", "playwright.config.ts", "--project", suite],
        cwd=PROJECT_ROOT / "frontend",
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


class Stack:
    def __init__(self, env: dict[str, str], started: datetime) -> None:
        self.env = env
        #: When `stack up` was first run: the install day.
        self.started = started
        os.environ.update({k: v for k, v in env.items() if k.startswith("IMGASSETS_")})
        from imgassets.core.settings import get_settings
        from imgassets.core.storage import ObjectStore

        get_settings.cache_clear()
        self.store = ObjectStore.from_settings(get_settings())

    def summaries(self) -> list[dict]:
        from imgassets.core import layout

        return [self.store.get_json(key) for key in self.store.list_keys(layout.SUMMARIES)]

    def summarised(self) -> int:
        """Images counted by all hour summaries."""
        return sum(summary["image_count"] for summary in self.summaries())

    def wait_for_summary(self, images: int, timeout: float = 240) -> dict:
        def full() -> dict | None:
            return next((s for s in self.summaries() if s["image_count"] + s["rejected_count"] >= images), None)

        summary = poll(full, lambda found: found is not None, timeout)
        if summary is None:
            logs = cli(self.env, "stack", "logs", "dagster-daemon", "-n", "80").stdout
            raise AssertionError(f"no summary with {images} images after {timeout} s; daemon log:\n{logs}")
        return summary

    def handled(self) -> int:
        """Images counted by all hour summaries, as detections or rejections."""
        return sum(summary["image_count"] + summary["rejected_count"] for summary in self.summaries())

    def wait_for_total(self, images: int, timeout: float = 240) -> int:
        total = poll(self.summarised, lambda found: found >= images, timeout)
        assert total >= images, f"{total} of {images} images summarised after {timeout} s"
        return total


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float, every: float = 1.0) -> T:
    """Calls `fetch` until `done` accepts its value or `timeout` passes; returns the last value either way."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(every)
        value = fetch()
    return value


@pytest.fixture(scope="session")
def webhook() -> Iterator[helpers.WebhookReceiver]:
    """The stack's alert webhook: a local server keeping every alert."""
    receiver = helpers.WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, webhook: helpers.WebhookReceiver) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("e2e-home")
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("IMGASSETS_")}
        | _base_env(home, PORTS)
        | {
            "IMGASSETS_ALERT_WEBHOOK_URL": webhook.url,
            "IMGASSETS_ALERT_FAILED_TICKS": "2",
            "IMGASSETS_BATCH_REQUEUE_LIMIT": "1",
            # A new install: the first `stack up` writes the partitions' start (its day) to this .env.
            "IMGASSETS_ENV_FILE": str(home / ".env"),
            # The project's versions, in a copy that `imgassets versions add` may write to.
            "IMGASSETS_DETECTOR_VERSIONS_FILE": str(home / "detector-versions.toml"),
            # … and its sources, in a copy the journeys describe their cameras in.
            "IMGASSETS_SOURCES_FILE": str(home / "sources.toml"),
        }
    )
    shutil.copy(DEFAULT_FILE, home / "detector-versions.toml")
    shutil.copy(SOURCES_FILE, home / "sources.toml")
    del env["IMGASSETS_PARTITIONS_START"]
    saved = {k: v for k, v in os.environ.items() if k.startswith("IMGASSETS_")}
    installed = datetime.now(UTC)
    started = cli(env, "stack", "up", "--no-demo")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield Stack(env, installed)
    finally:
        stopped = cli(env, "stack", "down")
        os.environ.update(saved)
        from imgassets.core.settings import get_settings

        get_settings.cache_clear()
        assert stopped.returncode == 0, stopped.stderr
