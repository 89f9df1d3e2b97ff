"""Watch mode (`imgassets ingest --watch`, `imgassets.ingest.watch.Watcher`) on the real Kafka broker and S3 server:
files created during the initial scan, files seen by both the scan and an event, retries with backoff of a
failed upload, giving up, and files that stay unstable."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from imgassets.ingest import announce, media
from imgassets.ingest.media import Item
from imgassets.ingest.watch import RetryPolicy, Watcher
from imgassets_tests import helpers

pytestmark = pytest.mark.integration


def jpeg(seed: int, size: int = 96) -> bytes:
    """A small JPEG of its own content (so the sha256 dedupe never mistakes one for another)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", pixels)
    assert ok
    return encoded.tobytes()


class Recorder:
    """Collects what the watcher prints, with the time of each line."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.err: list[tuple[float, str]] = []

    def echo(self, text: str) -> None:
        self.out.append(text)

    def warn(self, text: str) -> None:
        self.err.append((time.monotonic(), text))

    def errors(self, containing: str) -> list[str]:
        return [text for _, text in self.err if containing in text]


def run_until(watcher: Watcher, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "watcher did not get there in time"
        watcher.step(0.05)


def announced(topic: str) -> list[dict]:
    return [m for m in helpers.read_all(topic) if isinstance(m, dict)]


@pytest.fixture
def producer(topics, deployment):
    kafka_producer = deployment.producer()
    yield kafka_producer
    kafka_producer.close()


def make_watcher(
    deployment: helpers.Deployment, folder: Path, producer: object, recorder: Recorder, **options: Any
) -> Watcher:
    ingestor = announce.Ingestor(deployment.store(), producer, deployment.settings.kafka_topic)
    defaults: dict[str, Any] = {"settle_seconds": 0.2, "echo": recorder.echo, "warn": recorder.warn}
    return Watcher([folder], ingestor, workers=2, **(defaults | options))


def test_retry_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy()
    assert [policy.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.max_attempts == 8


def test_file_created_during_the_initial_scan_is_ingested(tmp_path: Path, topics, store, producer, deployment) -> None:
    """The observer runs before the scan: a file landing after the scan listed the folder is still sent."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for n in range(3):
        (folder / f"old-{n}.jpg").write_bytes(jpeg(n))
    late = folder / "late.jpg"
    recorder = Recorder()
    read_paths: list[Path] = []

    def items_creating_a_file_midway(paths: Iterable[Path]) -> Iterator[Item]:
        for path in paths:
            read_paths.append(path)
            if len(read_paths) == 1:  # the scan has listed the folder already: this file is not in its list
                late.write_bytes(jpeg(99))
            yield from media.path_items([path])

    with make_watcher(deployment, folder, producer, recorder, make_items=items_creating_a_file_midway) as watcher:
        report = watcher.scan()
        assert len(report.sent) == 3 and late not in read_paths
        run_until(watcher, lambda: len(watcher.totals.sent) == 4 and watcher.idle)

    messages = announced(topics.images)
    assert sorted(m["source"]["path"] for m in messages) == sorted(
        str(p.resolve()) for p in [*folder.glob("old-*.jpg"), late]
    )
    late_message = next(m for m in messages if m["source"]["path"] == str(late.resolve()))
    assert late_message["sha256"] == hashlib.sha256(late.read_bytes()).hexdigest()
    assert any(line.startswith(f"sent {late.resolve()}") for line in recorder.out)


def test_file_seen_by_scan_and_event_is_read_once(tmp_path: Path, topics, store, producer, deployment) -> None:
    """A file created after the observer started and before the scan listed the folder is found by both; it is
    read and sent once (the event finds it unchanged, so it is not even offered to the content dedupe)."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    recorder = Recorder()
    reads: list[Path] = []

    def counting_items(paths: Iterable[Path]) -> Iterator[Item]:
        for path in paths:
            reads.append(path.resolve())
            yield from media.path_items([path])

    with make_watcher(deployment, folder, producer, recorder, make_items=counting_items) as watcher:
        both = folder / "both.jpg"
        both.write_bytes(jpeg(7))  # the observer queues an event for it
        report = watcher.scan()  # … and the scan lists it
        assert len(report.sent) == 1
        time.sleep(0.3)  # let the event arrive
        run_until(watcher, lambda: watcher.idle)
        watcher.step(0.5)

    assert reads == [both.resolve()]
    assert watcher.totals.duplicates == [] and len(watcher.totals.sent) == 1
    assert [m["source"]["path"] for m in announced(topics.images)] == [str(both.resolve())]


def test_failed_upload_is_retried_with_backoff_until_it_succeeds(
    tmp_path: Path, topics, s3_server: str, producer, deployment
) -> None:
    """S3 refuses the upload (its bucket does not exist yet); the watcher retries after 0.2, 0.4, 0.8, 0.8 s …
    and sends the image once the bucket is there: one message, nothing lost, nothing doubled."""
    deployment = deployment.with_values(s3_bucket=f"t-{uuid.uuid4().hex[:12]}")
    folder = tmp_path / "incoming"
    folder.mkdir()
    recorder = Recorder()
    policy = RetryPolicy(first_delay=0.2, max_delay=0.8, max_attempts=8)
    with make_watcher(deployment, folder, producer, recorder, retry=policy) as watcher:
        watcher.scan()
        photo = folder / "retry-me.jpg"
        photo.write_bytes(jpeg(11))
        run_until(watcher, lambda: len(recorder.errors("(attempt 4/8)")) == 1)
        assert watcher.totals.sent == []
        deployment.store().ensure_bucket()  # S3 is "back"
        run_until(watcher, lambda: len(watcher.totals.sent) == 1 and watcher.idle)

    failures = [(at, text) for at, text in recorder.err if text.startswith(f"failed: {photo.resolve()} (attempt")]
    assert [text.rsplit("retrying in ", 1)[1] for _, text in failures[:4]] == ["0.2 s", "0.4 s", "0.8 s", "0.8 s"]
    assert "NoSuchBucket" in failures[0][1]
    gaps = [later - earlier for (earlier, _), (later, _) in zip(failures, failures[1:], strict=False)]
    assert all(gap >= policy.delay(n + 1) - 0.05 for n, gap in enumerate(gaps)), gaps
    assert watcher.totals.failed == []
    messages = announced(topics.images)
    assert len(messages) == 1 and messages[0]["sha256"] == hashlib.sha256(photo.read_bytes()).hexdigest()
    assert any(line.startswith(f"sent {photo.resolve()}") and "(attempt " in line for line in recorder.out)


def test_upload_that_keeps_failing_is_reported_after_the_last_attempt(
    tmp_path: Path, topics, s3_server: str, producer, deployment
) -> None:
    deployment = deployment.with_values(s3_bucket=f"t-{uuid.uuid4().hex[:12]}")  # never created
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "doomed.jpg").write_bytes(jpeg(12))
    recorder = Recorder()
    with make_watcher(deployment, folder, producer, recorder, retry=RetryPolicy(0.05, 0.1, 3)) as watcher:
        report = watcher.scan()
        assert len(report.retryable) == 1
        run_until(watcher, lambda: watcher.idle)

    doomed = (folder / "doomed.jpg").resolve()
    assert len(recorder.errors(f"failed: {doomed} (attempt")) == 2
    assert len(recorder.errors(f"failed: {doomed}: gave up after 3 attempts: ")) == 1
    assert [path for path, _ in watcher.totals.failed] == [str(doomed)]
    assert announced(topics.images) == []


def test_unstable_file_is_reported_and_read_once_it_settles(
    tmp_path: Path, topics, store, producer, deployment
) -> None:
    """A file written slowly for longer than the stability timeout is reported on stderr, then read whole once
    the writer stops: the image sent is the complete file, once."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    recorder = Recorder()
    content = jpeg(13, size=160)
    slow = folder / "slow.jpg"

    def write_slowly() -> None:
        chunks = [content[i : i + len(content) // 25 + 1] for i in range(0, len(content), len(content) // 25 + 1)]
        with slow.open("wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
                handle.flush()
                time.sleep(0.1)  # ~2.5 s in all, the timeout is 1 s

    with make_watcher(deployment, folder, producer, recorder, stable_timeout=1.0, settle_seconds=0.3) as watcher:
        watcher.scan()
        writer = threading.Thread(target=write_slowly)
        writer.start()
        run_until(watcher, lambda: len(watcher.totals.sent) == 1 and watcher.idle and not writer.is_alive())
        writer.join()

    assert recorder.errors(f"skipped {slow.resolve()}: still changing after 1 s")
    messages = announced(topics.images)
    assert len(messages) == 1
    assert messages[0]["sha256"] == hashlib.sha256(content).hexdigest() and messages[0]["size"] == len(content)


def test_cli_watch_sends_new_files_and_stops_on_interrupt(tmp_path: Path, topics, store, deployment) -> None:
    """`imgassets ingest --watch` end to end, as a process: scan, a new file sent, Ctrl-C stops it cleanly."""
    import os
    import queue
    import signal
    import subprocess
    import sys

    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "first.jpg").write_bytes(jpeg(21))
    process = subprocess.Popen(
        [sys.executable, "-m", "imgassets.cli.main", "ingest", "--watch", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | deployment.env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()

    def wait_for(prefix: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith(prefix):
                return line

    try:
        assert wait_for("sent 1, already ingested 0, failed 0")
        wait_for("watching ")
        second = folder / "second.jpg"
        second.write_bytes(jpeg(22))
        assert "→ images/" in wait_for(f"sent {second.resolve()}")
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert sorted(m["source"]["path"] for m in announced(topics.images)) == sorted(
        [str((folder / "first.jpg").resolve()), str(second.resolve())]
    )
