"""Shared helpers for integration tests: each test's deployment (resources and clients), and reading back what the
pipeline wrote."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from dagster import (
    ConfigurableResource,
    ExecuteInProcessResult,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
)
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from imgassets.cli.main import main
from imgassets.core import kafka_io, layout, messages, table
from imgassets.core.records import HourRollup, Manifest, Shard, Summary
from imgassets.core.settings import ENV_PREFIX, Settings, get_settings
from imgassets.core.storage import ObjectStore
from imgassets.defs.kafka_sensor import kafka_image_sensor
from imgassets.defs.partitions import hourly_partitions
from imgassets.defs.resource_types import PipelineResource
from imgassets.defs.resources import pipeline_resources
from imgassets.ingest import announce, media
from imgassets_tests.conftest import REPORT

#: The partitions of the tests' assets: from the settings' default start, as a deployment's are.
PARTITIONS = hourly_partitions(Settings.model_fields["partitions_start"].default)
#: The Kafka sensor as the tests tick it (its interval matters only to Dagster's daemon).
SENSOR = kafka_image_sensor(PARTITIONS, interval_seconds=0)


@dataclass(frozen=True)
class Tick:
    """A tick of SENSOR that read new messages: its new cursor and the runs it requests."""

    cursor: str | None
    run_requests: list[RunRequest]


def tick(context: SensorEvaluationContext) -> Tick:
    """Ticks SENSOR where the test expects it to request runs (a SensorResult, not a SkipReason)."""
    result = SENSOR(context)
    assert isinstance(result, SensorResult) and result.run_requests is not None, result
    return Tick(result.cursor, list(result.run_requests))


def partition_of(request: RunRequest) -> str:
    """The hour a run request of SENSOR is for (each of them names one)."""
    assert request.partition_key is not None, request
    return request.partition_key


@dataclass(frozen=True)
class Deployment:
    """One test's deployment: the session's test services plus the values this test sets (its topics, its
    bucket, a limit). Everything the code under test gets is built here and passed in: resources, clients, and
    for the CLI its environment."""

    base: Settings
    values: dict[str, object] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.base.model_copy(update=self.values)

    def with_values(self, **values: object) -> Deployment:
        return Deployment(self.base, self.values | values)

    def resources(self, **overrides: ConfigurableResource) -> dict[str, ConfigurableResource]:
        """The deployment's resource set; `overrides` replace whole resources."""
        return pipeline_resources(self.settings, **overrides)

    def pipeline(self, **values: object) -> PipelineResource:
        """The pipeline's tunables with `values` changed."""
        return PipelineResource.from_settings(self.settings, **values)

    def store(self) -> ObjectStore:
        return ObjectStore.from_settings(self.settings)

    def producer(self) -> KafkaProducer:
        return kafka_io.make_producer(kafka_io.settings_client_config(self.settings))

    def ingest_folder(self, folder: Path) -> announce.Report:
        kafka_producer = self.producer()
        try:
            ingestor = announce.Ingestor(self.store(), kafka_producer, self.settings.kafka_topic)
            return ingestor.ingest_many([media.image_item(path) for path in media.discover([folder])])
        finally:
            kafka_producer.close()

    def env(self) -> dict[str, str]:
        """What this deployment changes in the environment of the processes it starts (a CLI, a code location):
        their one configuration channel."""
        return {f"{ENV_PREFIX}{name.upper()}": str(value) for name, value in self.values.items()}

    def cli(self, *args: str) -> Result:
        """Runs `imgassets ARGS` the way a user does: configured by its environment, here this deployment's."""
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(main, list(args), env=self.env(), catch_exceptions=False)
        finally:
            get_settings.cache_clear()


def check_results(outcome: ExecuteInProcessResult) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Asset check name → (passed, metadata values) of one materialization."""
    return {
        e.check_name: (e.passed, {k: v.value for k, v in e.metadata.items()})
        for e in outcome.get_asset_check_evaluations()
    }


def records(topic: str) -> list[ConsumerRecord]:
    """Every record currently in `topic`, partition by partition in offset order."""
    consumer = kafka_io.make_consumer(kafka_io.settings_client_config(get_settings()))
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        found: list[ConsumerRecord] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=1000).values():
                found.extend(batch)
        return found
    finally:
        consumer.close()


def read_all(topic: str) -> list[Any]:
    """Every message currently in `topic`, decoded as JSON where it is JSON (raw bytes otherwise)."""
    return [_json_or_bytes(record.value) for record in records(topic)]


def end_offsets(topic: str) -> dict[int, int]:
    consumer: KafkaConsumer = kafka_io.make_consumer(kafka_io.settings_client_config(get_settings()))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def _json_or_bytes(value: bytes) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


def _image_messages(topic: str, bucket: str) -> list[messages.ImageMessage]:
    """The valid image announcements in `topic` (the others are the dead-letter topic's to account for)."""
    found = []
    for value in read_all(topic):
        if isinstance(value, dict):
            with contextlib.suppress(messages.MessageError):
                found.append(messages.decode(json.dumps(value).encode(), bucket))
    return found


def account(scenario: str, store: ObjectStore, images_topic: str, dlq_topic: str, sent: int | None = None) -> dict:
    """Every announced image must end as a detection or a rejection, or as a dead letter of its failed batch;
    every bad message in the DLQ. Adds a row to the reliability report and fails on anything lost or
    duplicated."""
    announced = {message.key for message in _image_messages(images_topic, store.bucket)}
    dead_letters = read_all(dlq_topic)
    given_up = {d.get("image_key") for d in dead_letters if isinstance(d, dict) and d.get("kind") == "batch"}
    detected = rejected = lost = 0
    partitions = {layout.parse_image_key(k).partition for k in announced}
    detection_keys = {k for p in partitions for k in store.list_keys(layout.detections_prefix(p))}
    rejection_keys = {k for p in partitions for k in store.list_keys(layout.rejections_prefix(p))}
    for key in announced:
        parsed = layout.parse_image_key(key)
        if parsed.detection_key in detection_keys:
            detected += 1
        elif parsed.rejection_key in rejection_keys:
            rejected += 1
        elif key not in given_up:
            lost += 1
    # An image counted twice: more summary images than detection records in an hour, or two rows in its table.
    duplicates = len(detection_keys) - detected
    for partition in partitions:
        found = store.get_optional(layout.summary_key(partition))
        records = sum(1 for key in detection_keys if key.startswith(layout.detections_prefix(partition)))
        if found is not None:
            duplicates += max(0, Summary.model_validate_json(found.data).image_count - records)
        hour = table.read_hour(store, partition)
        if hour is not None:
            keys = hour.images.column("image_key").to_pylist()
            duplicates += len(keys) - len(set(keys))
    row = {
        "scenario": scenario,
        "sent": len(announced) if sent is None else sent,
        "detections": detected,
        "rejections": rejected,
        "dead_lettered": len(dead_letters),
        "lost": lost,
        "duplicates": duplicates,
    }
    REPORT.append(row)
    assert lost == 0 and duplicates == 0, row
    return row


class WebhookReceiver:
    """A local HTTP server standing in for a Slack-compatible incoming webhook: keeps every JSON body POSTed."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T0/B0/{uuid.uuid4().hex}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["text"] for body in list(self.received)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def merged_summary(partition: str, generated_at: datetime, shards: list[Shard], manifests: list[Manifest]) -> Summary:
    """The hour's summary from these shards and manifests all at once: what the incremental roll-ups must equal."""
    rollup = HourRollup.rebuilt(partition, shards, manifests)
    return Summary.of(rollup, generated_at)
