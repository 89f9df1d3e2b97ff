"""Nothing lost under faults: real broker and S3 processes are killed and restarted mid-stream, messages are
duplicated and replayed, a backfill races sensor runs. Each scenario accounts for every message (detection,
rejection, or dead letter) and adds a line to the reliability report printed at the end of the test run.
"""

import os
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context, materialize

from imgassets.core import layout, messages
from imgassets.core.records import Shard
from imgassets.core.storage import ObjectStore
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.defs.kafka_sensor import Cursor
from imgassets.ingest import announce, media
from imgassets.stack import services
from imgassets_tests import helpers
from imgassets_tests.conftest import TEST_SECRET_KEY

pytestmark = pytest.mark.integration
ASSETS = [image_batch_asset(helpers.PARTITIONS), detection_summary_asset(helpers.PARTITIONS)]


def _tick(deployment: helpers.Deployment, instance: DagsterInstance, cursor: str | None):
    return helpers.SENSOR(build_sensor_context(cursor=cursor, resources=deployment.resources(), instance=instance))


def _drain(deployment: helpers.Deployment, instance: DagsterInstance, cursor: str | None) -> str | None:
    """Ticks until no new messages, executing every requested run; returns the final cursor."""
    while True:
        result = _tick(deployment, instance, cursor)
        if not getattr(result, "run_requests", None):
            return cursor
        for request in result.run_requests:
            assert materialize(
                ASSETS,
                partition_key=request.partition_key,
                run_config=request.run_config,
                resources=deployment.resources(),
                instance=instance,
            ).success
        cursor = result.cursor


def _account(scenario: str, store: ObjectStore, topics, sent: int) -> dict:
    return helpers.account(scenario, store, topics.images, topics.dlq, sent)


def _photos(tmp_path: Path, count: int, first: int = 0) -> list[media.Item]:
    from imgassets.devtools.bench_photos import synthetic_photos

    return [
        media.Item(data=data, name=f"r{first + i}.jpg", source=messages.Source(path=f"{tmp_path}/r{first + i}.jpg"))
        for i, data in enumerate(synthetic_photos(count, first=first + 10_000))
    ]


def _ingest(deployment: helpers.Deployment, items: list[media.Item]) -> announce.Report:
    settings = deployment.settings
    producer = deployment.producer()
    try:
        return announce.Ingestor(ObjectStore.from_settings(settings), producer, settings.kafka_topic).ingest_many(items)
    finally:
        producer.close()


def test_duplicate_and_replayed_messages_yield_one_record(topics, store, tmp_path, deployment) -> None:
    items = _photos(tmp_path, 6)
    report = _ingest(deployment, items)
    # Duplicate produce: the same messages sent a second time.
    producer = deployment.producer()
    for message in helpers.read_all(topics.images):
        producer.send(topics.images, value=messages.encode(messages.ImageMessage.model_validate(message)))
    producer.flush()
    producer.close()
    instance = DagsterInstance.ephemeral()
    cursor = _drain(deployment, instance, None)
    # Replayed offsets: a tick from the beginning again.
    assert _drain(deployment, instance, None) is not None
    assert Cursor.parse(cursor).offsets == helpers.end_offsets(topics.images)
    row = _account("duplicate produce + replayed offsets", store, topics, sent=2 * len(report.sent))
    assert row["detections"] == 6


def test_bad_messages_and_bad_images_are_accounted_for(topics, store, tmp_path, deployment) -> None:
    items = _photos(tmp_path, 4, first=500)
    good = items[0].data
    items.append(media.Item(data=good[: len(good) // 2], name="cut.jpg", source=messages.Source(path="cut.jpg")))
    report = _ingest(deployment, items)
    producer = deployment.producer()
    for value in (b"{not json", b'{"schema": "imgassets.image.v1"}', b'{"schema": "imgassets.image.v0"}'):
        producer.send(topics.images, value=value)
    producer.flush()
    producer.close()
    _drain(deployment, DagsterInstance.ephemeral(), None)
    row = _account("bad messages + a truncated image among good ones", store, topics, sent=len(report.sent) + 3)
    assert (row["detections"], row["rejections"], row["dead_lettered"]) == (4, 1, 3)


def test_kafka_broker_killed_and_restarted_mid_stream(topics, store, tmp_path, deployment) -> None:
    settings = deployment.settings
    broker = services.kafka_service(settings, services.Paths(settings.home))
    instance = DagsterInstance.ephemeral()
    first = _ingest(deployment, _photos(tmp_path, 8))
    cursor = _drain(deployment, instance, None)

    # Kill -9 the broker while the next images are being ingested.
    items = _photos(tmp_path, 40, first=100)
    outcome: dict[str, announce.Report] = {}
    ingesting = threading.Thread(target=lambda: outcome.update(report=_ingest(deployment, items)))
    ingesting.start()
    time.sleep(0.3)
    broker_pid = broker.pid()
    assert broker_pid is not None
    os.kill(broker_pid, signal.SIGKILL)
    # A sensor tick while the broker is down fails, and leaves the cursor where it was.
    with pytest.raises(Exception):  # noqa: B017 (any Kafka error: the tick must fail, not skip ahead)
        _tick(deployment, instance, cursor)
    time.sleep(1)
    broker.start()
    broker.wait_healthy(120)
    ingesting.join(timeout=300)
    # Images whose announcement failed are re-ingested (same key from the pending marker).
    retried = _ingest(deployment, items)
    cursor = _drain(deployment, instance, cursor)
    sent = len(first.sent) + len(outcome["report"].sent) + len(retried.sent)
    row = _account("Kafka broker SIGKILL + restart mid-stream", store, topics, sent=sent)
    assert row["detections"] == 48
    print(f"announcements failed while the broker was down, re-sent after restart: {len(outcome['report'].failed)}")


def test_s3_outage_during_a_run_fails_clearly_and_a_retry_completes(topics, store, tmp_path, deployment) -> None:
    # One run over all 120 images: this test is about the outage, not the first-run split.
    retrying = deployment.with_values(batch_first_images=1000)
    # Two attempts: the run fails soon after S3 goes. The retry has the default attempts: a SeaweedFS that has just
    # restarted answers some reads with 500 for a moment.
    deployment = retrying.with_values(s3_max_attempts=2)
    settings = deployment.settings
    server = services.s3_service(settings, services.Paths(settings.home))
    # Enough images that detections is still running when S3 goes away (ONNX does 30 in about a second).
    report = _ingest(deployment, _photos(tmp_path, 120, first=200))
    instance = DagsterInstance.ephemeral()
    (request,) = _tick(deployment, instance, None).run_requests
    partition = request.partition_key

    def stop_when_detecting() -> None:
        # Stop S3 once the first detection record is written, i.e. while the batch is being detected.
        watcher = ObjectStore.from_settings(settings)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(watcher.list_keys(layout.detections_prefix(partition))):
            time.sleep(0.02)
        server.stop()

    stopper = threading.Thread(target=stop_when_detecting)
    stopper.start()
    try:
        failed = materialize(
            ASSETS,
            partition_key=partition,
            run_config=request.run_config,
            resources=deployment.resources(),
            instance=instance,
            raise_on_error=False,
        )
        stopper.join()
    finally:
        server.start()  # whatever happened, the session's S3 server comes back for the other tests
        server.wait_healthy(60)
        from imgassets_tests.conftest import _wait_bucket_ready

        _wait_bucket_ready(store)
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key in ("raw_images", "detection_summary")  # the step of raw_images and detections
    error = str(failure.step_failure_data.error)
    # An object's read or write (obstore) or a listing (boto3) found the server gone.
    assert "error sending request" in error or "Could not connect to the endpoint URL" in error

    retried = materialize(
        ASSETS,
        partition_key=partition,
        run_config=request.run_config,
        resources=retrying.resources(),
        instance=instance,
    )
    assert retried.success
    row = _account("S3 server stopped mid-run, run re-executed", store, topics, sent=len(report.sent))
    assert row["detections"] == 120


def test_backfill_racing_sensor_runs_loses_nothing(topics, store, tmp_path, deployment) -> None:
    report = _ingest(deployment, _photos(tmp_path, 16, first=300))
    (request,) = _tick(deployment, DagsterInstance.ephemeral(), None).run_requests
    partition = request.partition_key
    results: list[bool] = []

    def run(config: object) -> None:
        outcome = materialize(
            ASSETS,
            partition_key=partition,
            run_config=config,
            resources=deployment.resources(),
            instance=DagsterInstance.ephemeral(),
        )
        results.append(outcome.success)

    threads = [threading.Thread(target=run, args=(request.run_config,)), threading.Thread(target=run, args=(None,))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True, True]
    shards = [store.get_record(k, Shard) for k in store.list_keys(layout.shards_prefix(partition))]
    assert len(shards) == 2 and all(len(s.images) == 16 for s in shards)
    # Whichever summary was written last, the merged shards hold every image exactly once.
    merged = helpers.merged_summary(partition, datetime.now(UTC), shards, [])
    assert merged.image_count == 16
    _account("backfill racing a sensor run (same hour)", store, topics, sent=len(report.sent))


def test_secret_key_never_appears_in_run_logs(topics, store, tmp_path, capfd, deployment) -> None:
    _ingest(deployment, _photos(tmp_path, 2, first=400))
    instance = DagsterInstance.ephemeral()
    cursor = _drain(deployment, instance, None)
    assert cursor is not None
    run = instance.get_runs()[0]
    logged = "\n".join(str(entry.message) + str(entry.dagster_event) for entry in instance.all_logs(run.run_id))
    captured = capfd.readouterr()
    assert TEST_SECRET_KEY not in logged
    assert TEST_SECRET_KEY not in captured.out + captured.err
    assert TEST_SECRET_KEY not in str(run.run_config)
