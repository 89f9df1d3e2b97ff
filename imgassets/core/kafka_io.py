"""Kafka client construction and topic setup, shared by the CLI, the sensor and the tests."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError

from imgassets.core.settings import Settings


def client_config(
    bootstrap_servers: str,
    security_protocol: str = "PLAINTEXT",
    sasl_mechanism: str = "PLAIN",
    sasl_username: str | None = None,
    sasl_password: str | None = None,
    ssl_cafile: str | None = None,
) -> dict[str, object]:
    """Connection options for any kafka-python client (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)."""
    config: dict[str, object] = {
        "bootstrap_servers": [s.strip() for s in bootstrap_servers.split(",")],
        "security_protocol": security_protocol,
    }
    if security_protocol.startswith("SASL_"):
        config |= {
            "sasl_mechanism": sasl_mechanism,
            "sasl_plain_username": sasl_username,
            "sasl_plain_password": sasl_password,
        }
    if security_protocol in ("SSL", "SASL_SSL") and ssl_cafile:
        config["ssl_cafile"] = ssl_cafile
    return config


def settings_client_config(settings: Settings) -> dict[str, object]:
    return client_config(
        settings.kafka_bootstrap_servers,
        settings.kafka_security_protocol,
        settings.kafka_sasl_mechanism,
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else None,
        str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None,
    )


def make_producer(config: dict[str, object]) -> KafkaProducer:
    """Durable producer: waits for all in-sync replicas, retries transient errors, keeps order per key."""
    return KafkaProducer(**config, acks="all", retries=5, linger_ms=5, max_in_flight_requests_per_connection=1)


def make_consumer(config: dict[str, object]) -> KafkaConsumer:
    """A group-less consumer: the sensor assigns partitions itself and seeks to its own cursor."""
    return KafkaConsumer(
        **config,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=20_000,
        # An unreachable broker fails a sensor tick after 10 s (not kafka-python's 30), well inside Dagster's
        # sensor timeout, so the tick reports the real error and the failed-ticks alert counts it.
        bootstrap_timeout_ms=10_000,
        # A standing consumer (`standing_consumer`) sees partitions added to the topic within 30 s.
        metadata_max_age_ms=30_000,
    )


_standing: dict[str, KafkaConsumer] = {}
_standing_lock = threading.Lock()


@contextlib.contextmanager
def standing_consumer(config: dict[str, object]) -> Iterator[KafkaConsumer]:
    """A group-less consumer kept between sensor ticks, lent to one tick at a time (a concurrent tick gets a fresh
    one). A new consumer costs every tick a bootstrap connection, a version probe and a metadata fetch. A tick that
    raises closes the consumer it borrowed, so the next one starts clean."""
    key = json.dumps(config, sort_keys=True, default=str)
    with _standing_lock:
        consumer = _standing.pop(key, None)
    if consumer is None:
        consumer = make_consumer(config)
    try:
        yield consumer
    except BaseException:
        consumer.close()
        raise
    with _standing_lock:
        if key not in _standing:
            _standing[key], consumer = consumer, None
    if consumer is not None:
        consumer.close()


def ensure_topics(settings: Settings) -> None:
    """Creates the image topic (with `kafka_topic_partitions` partitions) and the dead-letter topic."""
    admin = KafkaAdminClient(**settings_client_config(settings))
    try:
        wanted = {settings.kafka_topic: settings.kafka_topic_partitions, settings.kafka_dlq_topic: 1}
        existing = set(admin.list_topics())
        for name, partitions in wanted.items():
            if name in existing:
                continue
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, partitions, 1)])
        # A topic made just now has its partitions already; one that existed may have fewer than asked.
        if settings.kafka_topic in existing:
            described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([settings.kafka_topic])}
            if described.get(settings.kafka_topic, 0) < settings.kafka_topic_partitions:
                admin.create_partitions({settings.kafka_topic: NewPartitions(settings.kafka_topic_partitions)})
    finally:
        admin.close()
