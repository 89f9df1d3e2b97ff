"""Shared helpers for integration tests: resources and clients built from the current (test) settings."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from imgassets import ingest, kafka_io, layout
from imgassets.records import Summary
from imgassets.resources import AlertResource, DetectorResource, KafkaResource, S3Resource
from imgassets.settings import get_settings
from imgassets.storage import ObjectStore
from imgassets_tests.conftest import REPORT


def resources() -> dict[str, object]:
    settings = get_settings()
    return {
        "s3": S3Resource.from_settings(settings),
        "kafka": KafkaResource.from_settings(settings),
        "detector": DetectorResource.from_settings(settings),
        "alerts": AlertResource.from_settings(settings),
    }


def producer():  # noqa: ANN201
    return kafka_io.make_producer(kafka_io.settings_client_config(get_settings()))


def ingest_folder(folder: Path) -> ingest.Report:
    settings = get_settings()
    kafka_producer = producer()
    try:
        ingestor = ingest.Ingestor(ObjectStore.from_settings(settings), kafka_producer, settings.kafka_topic)
        items = [ingest.image_item(path) for path in ingest.discover([folder])]
        return ingestor.ingest_many(items)
    finally:
        kafka_producer.close()


def read_all(topic: str) -> list[object]:
    """Every message currently in `topic`, decoded as JSON where it is JSON (raw bytes otherwise)."""
    consumer = kafka_io.make_consumer(kafka_io.settings_client_config(get_settings()))
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        values: list[dict] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                values.extend(_json_or_bytes(r.value) for r in records)
        return values
    finally:
        consumer.close()


def end_offsets(topic: str) -> dict[int, int]:
    consumer: KafkaConsumer = kafka_io.make_consumer(kafka_io.settings_client_config(get_settings()))
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def _json_or_bytes(value: bytes) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return value


def account(scenario: str, store: ObjectStore, images_topic: str, dlq_topic: str, sent: int | None = None) -> dict:
    """Every announced image must end as a detection or a rejection; every bad message in the DLQ. Adds a row
    to the reliability report and fails on anything lost or duplicated."""
    announced = {m["key"] for m in read_all(images_topic) if isinstance(m, dict) and "key" in m}
    dead = len(read_all(dlq_topic))
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
        else:
            lost += 1
    summary_images = Counter(
        image.image_key for p in partitions for image in store.get_record(layout.summary_key(p), Summary).images
    )
    duplicates = sum(n - 1 for n in summary_images.values()) + len(detection_keys) - detected
    row = {"scenario": scenario, "sent": len(announced) if sent is None else sent, "detections": detected,
           "rejections": rejected, "dead_lettered": dead, "lost": lost, "duplicates": duplicates}
    REPORT.append(row)
    assert lost == 0 and duplicates == 0, row
    return row
