"""The Kafka sensor over a backlog (`imgassets bench-volume`, part one): N valid image announcements wait across a
topic of P partitions, and the real sensor is evaluated tick after tick until it has read them all.

Each tick is what Dagster's code server does for the daemon: `evaluate_tick` with the code location's definitions
(the sensor function, then Dagster resolving its partitioned run requests), timed in wall and CPU seconds, and the
result serialized as it crosses to the daemon. Nothing is launched; the cursor advances as Dagster advances it, to
the result's. The sensor reads only Kafka (it never looks in S3), so the announcements need no objects behind them.
The topic is the bench's own (`<topic>-volume-<id>`), deleted afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from dagster import DagsterInstance, Definitions, RunRequest, SensorDefinition, build_sensor_context
from dagster_shared.serdes import serialize_value
from kafka import KafkaAdminClient

from imgassets.core import kafka_io, layout, messages
from imgassets.core.settings import Settings
from imgassets.definitions import build_definitions
from imgassets.defs.kafka_sensor import SENSOR_NAME, Cursor
from imgassets.defs.resources import pipeline_resources


@dataclass(frozen=True)
class Tick:
    """One evaluation of the sensor: its cost, what it read and requested, and the sizes Dagster stores and sends."""

    wall_s: float
    cpu_s: float
    messages: int
    run_requests: int
    images: int
    cursor_bytes: int
    #: The serialized `SensorExecutionData` the code server sends the daemon (run requests with their batches).
    result_bytes: int
    skipped: str | None


@dataclass
class SensorBench:
    """The sensor of `settings` (its topic, bucket and tunables), ticked on `instance` as Dagster would."""

    settings: Settings
    instance: DagsterInstance
    cursor: str | None = None

    def __post_init__(self) -> None:
        self.definitions: Definitions = build_definitions(self.settings)
        self.sensor: SensorDefinition = self.definitions.resolve_sensor_def(SENSOR_NAME)
        self.resources = pipeline_resources(self.settings)

    def tick(self) -> tuple[Tick, list[RunRequest]]:
        """One tick from the current cursor; the cursor moves to the result's (a skip leaves it, as in Dagster)."""
        context = build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=self.resources, definitions=self.definitions
        )
        cpu, wall = time.process_time(), time.perf_counter()
        data = self.sensor.evaluate_tick(context)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        before = sum(Cursor.parse(self.cursor).offsets.values())
        self.cursor = data.cursor or self.cursor
        requests = list(data.run_requests or [])
        figures = Tick(
            wall_s=round(wall, 4),
            cpu_s=round(cpu, 4),
            messages=sum(Cursor.parse(self.cursor).offsets.values()) - before,
            run_requests=len(requests),
            images=sum(int(r.tags.get("imgassets/images", 0)) for r in requests),
            cursor_bytes=len((self.cursor or "").encode()),
            result_bytes=len(serialize_value(data).encode()),
            skipped=data.skip_message if not requests else None,
        )
        return figures, requests


def announcement(bucket: str, index: int, uploaded_at: datetime, tag: str) -> messages.ImageMessage:
    """A valid image announcement (the schema `imgassets ingest` sends) of a made-up image `index`."""
    digest = hashlib.sha256(f"{tag}/{index}".encode()).hexdigest()
    return messages.ImageMessage(
        bucket=bucket,
        key=layout.image_key(digest, f"volume-{index:06d}.jpg", uploaded_at),
        size=4096,
        sha256=digest,
        content_type="image/jpeg",
        uploaded_at=uploaded_at,
        source=messages.Source(path=f"/volume/{index:06d}.jpg", name="volume"),
    )


def produce(settings: Settings, count: int) -> float:
    """Sends `count` announcements to the settings' topic, keyed by image key as ingest does (so they spread over
    the partitions); seconds taken."""
    producer = kafka_io.make_producer(kafka_io.settings_client_config(settings))
    started, now, tag = time.perf_counter(), datetime.now(UTC), uuid.uuid4().hex
    try:
        for index in range(count):
            message = announcement(settings.s3_bucket, index, now, tag)
            producer.send(settings.kafka_topic, key=message.key.encode(), value=messages.encode(message))
        producer.flush(timeout=120)
    finally:
        producer.close()
    return time.perf_counter() - started


@contextlib.contextmanager
def own_topic(settings: Settings, name: str, partitions: int) -> Iterator[Settings]:
    """`settings` with a new image topic of `partitions` partitions (and its dead-letter topic), made as the stack
    makes its topics and deleted afterwards. It is used once the broker reports every partition, so the
    announcements spread over all of them."""
    topic = f"{settings.kafka_topic}-{name}-{uuid.uuid4().hex[:8]}"
    own = settings.model_copy(
        update={"kafka_topic": topic, "kafka_dlq_topic": f"{topic}.dlq", "kafka_topic_partitions": partitions}
    )
    admin = KafkaAdminClient(**kafka_io.settings_client_config(own))
    try:
        kafka_io.ensure_topics(own)
        deadline = time.monotonic() + 30
        while len(admin.describe_topics([topic])[0]["partitions"]) < partitions:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Kafka does not report the {partitions} partitions of {topic}")
            time.sleep(0.2)
        yield own
    finally:
        with contextlib.suppress(Exception):  # a leftover topic costs only disk
            admin.delete_topics([topic, own.kafka_dlq_topic])
        admin.close()


def run(
    settings: Settings,
    instance: DagsterInstance,
    messages_count: int,
    partitions: int,
    max_ticks: int,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """An idle tick (the standing consumer made, as in a running code server), then `messages_count` announcements
    and the ticks that read them, until one finds nothing new or `max_ticks`, then one more idle tick."""
    with own_topic(settings, "volume", partitions) as own:
        bench = SensorBench(own, instance)
        idle, _ = bench.tick()
        log(f"sensor: an idle tick before the backlog {idle.wall_s * 1000:.0f} ms ({idle.skipped})")
        log(f"sensor: {messages_count:,} announcements to {own.kafka_topic} ({partitions} partitions) …")
        produced_s = produce(own, messages_count)
        ticks: list[Tick] = []
        while len(ticks) < max_ticks:
            figures, _ = bench.tick()
            ticks.append(figures)
            log(
                f"  tick {len(ticks)}: {figures.wall_s:.3f} s wall, {figures.cpu_s:.3f} s CPU, "
                f"{figures.messages:,} messages, {figures.run_requests} run requests ({figures.images:,} images), "
                f"cursor {figures.cursor_bytes} B, result {figures.result_bytes:,} B"
                + (f" — skipped: {figures.skipped}" if figures.skipped else "")
            )
            if figures.skipped:
                break
        # The tick after a read can wait for the fetch its consumer left in flight; the one after it cannot.
        idle_after, _ = bench.tick()
        log(f"sensor: the next idle tick {idle_after.wall_s * 1000:.0f} ms, {idle_after.cpu_s * 1000:.0f} ms CPU")
        cursor = Cursor.parse(bench.cursor).offsets
    consumed = sum(t.messages for t in ticks)
    return {
        "messages": messages_count,
        "partitions": partitions,
        "produced_s": round(produced_s, 2),
        "idle_tick": asdict(idle),
        "ticks": [asdict(t) for t in ticks],
        "idle_tick_after": asdict(idle_after),
        "consumed": consumed,
        "cursor_partitions": len(cursor),
        "cursor": bench.cursor,
        "backlog_consumed": consumed == messages_count,
    }
