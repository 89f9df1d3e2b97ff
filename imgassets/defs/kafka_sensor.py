"""The Kafka sensor: new image messages → one run per hour-batch.

The cursor holds the next Kafka offset per partition and advances only in the same `SensorResult` as the run
requests that cover those offsets (Dagster stores both together). Bad messages are written to the dead-letter
topic, and that write is confirmed before the cursor moves past them. A tick that fails or times out leaves
the cursor where it was; the replay yields the same deterministic run keys, which Dagster de-duplicates.
"""

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    HourlyPartitionsDefinition,
    RunConfig,
    RunRequest,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from imgassets.core import layout, messages
from imgassets.core.failures import InfrastructureError, describe, item_reason
from imgassets.defs.batch import BatchConfig, ImageRef
from imgassets.defs.jobs import image_batch_job
from imgassets.defs.resource_types import (
    AlertResource,
    KafkaResource,
    PipelineResource,
    S3Resource,
)

#: Tag on every run the Kafka sensor requests (and on their retries and re-requests).
TRIGGER_TAG = "imgassets/trigger"
TRIGGER_KAFKA = "kafka"


@dataclass
class Cursor:
    """Next offset to read, per Kafka partition of the image topic."""

    offsets: dict[int, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: str | None) -> "Cursor":
        if not raw:
            return cls()
        return cls({int(p): int(o) for p, o in json.loads(raw).get("offsets", {}).items()})

    def serialize(self) -> str:
        return json.dumps({"offsets": {str(p): o for p, o in sorted(self.offsets.items())}})


@dataclass
class Poll:
    """What one bounded read of the topic produced."""

    batches: dict[str, list[ImageRef]]
    dead_letters: list[messages.DeadLetter]
    cursor: Cursor
    read: int
    lag: int


def read_messages(
    consumer: KafkaConsumer,
    topic: str,
    cursor: Cursor,
    bucket: str,
    budget_seconds: float,
    max_messages: int,
    now: datetime,
    partitions_start: str,
) -> Poll:
    """Reads from the cursor until caught up, `max_messages`, or `budget_seconds`; classifies each message.

    Any exception while handling one message makes a dead letter for that message alone (reason: the
    exception's type and text); only infrastructure errors (`imgassets.core.failures`) fail the tick. Offsets the
    cursor expected but Kafka no longer holds become `gap` dead letters: never skipped silently.
    """
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise InfrastructureError(f"Kafka topic {topic!r} does not exist (run `imgassets stack up` or create it)")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    beginnings = consumer.beginning_offsets(assigned)
    ends = consumer.end_offsets(assigned)
    positions: dict[int, int] = {}
    dead: list[messages.DeadLetter] = []
    for tp in assigned:
        start, gap = _start_offset(topic, tp.partition, cursor.offsets.get(tp.partition), beginnings[tp], ends[tp])
        if gap is not None:
            dead.append(gap)
        consumer.seek(tp, start)
        positions[tp.partition] = start

    batches: dict[str, list[ImageRef]] = defaultdict(list)
    read = 0
    deadline = time.monotonic() + budget_seconds
    start_hour = layout.parse_partition(partitions_start)
    current_hour = layout.floor_hour(now)
    while read < max_messages and time.monotonic() < deadline:
        if all(positions[tp.partition] >= ends[tp] for tp in assigned):
            break
        polled = consumer.poll(timeout_ms=500, max_records=min(500, max_messages - read))
        for tp, records in sorted(polled.items(), key=lambda item: item[0].partition):
            for record in records:
                read += 1
                positions[tp.partition] = record.offset + 1
                try:
                    message = messages.decode(record.value, bucket)
                    hour = layout.floor_hour(message.uploaded_at)
                    if not start_hour <= hour <= current_hour:
                        raise messages.MessageError(
                            f"upload hour {message.partition} is outside the partitions ({partitions_start} … now)"
                        )
                    ref = ImageRef(
                        key=message.key,
                        sha256=message.sha256,
                        size=message.size,
                        topic=topic,
                        partition=tp.partition,
                        offset=record.offset,
                    )
                except Exception as exc:  # one message costs only itself, unless the infrastructure failed
                    reason = item_reason(exc, messages.MessageError)
                    dead.append(messages.DeadLetter.build(reason, topic, tp.partition, record.offset, record.value))
                    continue
                batches[message.partition].append(ref)
    lag = sum(max(0, ends[tp] - positions[tp.partition]) for tp in assigned)
    return Poll(dict(batches), dead, Cursor(positions), read, lag)


def _start_offset(
    topic: str, partition: int, expected: int | None, beginning: int, end: int
) -> tuple[int, messages.DeadLetter | None]:
    """Where to read a partition from, and the gap dead letter when Kafka no longer holds what the cursor expects."""
    if expected is None or beginning <= expected <= end:
        return max(expected or 0, beginning), None
    if expected < beginning:
        reason = (
            f"offsets {expected}-{beginning - 1} of {topic}/{partition} were deleted before they were read "
            "(retention); their images were never processed"
        )
        return beginning, messages.DeadLetter.build(
            reason, topic, partition, expected, None, kind="gap", last_offset=beginning - 1
        )
    reason = (
        f"{topic}/{partition} ends at offset {end} but the cursor expected {expected}: the topic was recreated "
        f"or truncated; reading it again from offset {beginning}. Unread messages of the old topic are gone"
    )
    return beginning, messages.DeadLetter.build(reason, topic, partition, expected, None, kind="gap")


def _chunks(refs: list[ImageRef], max_images: int, first_images: int | None) -> list[list[ImageRef]]:
    """`refs` in runs of at most `max_images`; with `first_images`, the first run takes only that many."""
    first = min(first_images or max_images, max_images)
    chunks = [refs[:first]] if refs else []
    return chunks + [refs[start : start + max_images] for start in range(first, len(refs), max_images)]


def run_requests(
    topic: str, batches: dict[str, list[ImageRef]], max_images: int, first_images: int | None = None
) -> list[RunRequest]:
    """One run per hour and chunk; the run key names exactly the offsets it covers."""
    requests = []
    for partition_key, refs in sorted(batches.items()):
        for chunk in _chunks(refs, max_images, first_images):
            spans: dict[int, tuple[int, int]] = {}
            for ref in chunk:
                assert ref.partition is not None and ref.offset is not None
                low, high = spans.get(ref.partition, (ref.offset, ref.offset))
                spans[ref.partition] = (min(low, ref.offset), max(high, ref.offset))
            span_text = ",".join(f"{p}:{lo}-{hi}" for p, (lo, hi) in sorted(spans.items()))
            requests.append(
                RunRequest(
                    run_key=f"{topic}/{span_text}/{partition_key}",
                    partition_key=partition_key,
                    run_config=RunConfig(ops={"raw_images": BatchConfig(images=chunk)}),
                    tags={TRIGGER_TAG: TRIGGER_KAFKA, "imgassets/images": str(len(chunk))},
                )
            )
    return requests


def publish_dead_letters(producer: KafkaProducer, dlq_topic: str, dead: list[messages.DeadLetter]) -> None:
    """Sends and confirms every dead letter; raises (so the cursor stays put) if any send fails."""
    futures = [producer.send(dlq_topic, key=letter.kafka_key, value=letter.encode()) for letter in dead]
    producer.flush(timeout=30)
    for future in futures:
        future.get(timeout=30)


_WAITING = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING]


def _runs_count(context: SensorEvaluationContext, statuses: list[DagsterRunStatus]) -> int:
    return context.instance.get_runs_count(RunsFilter(job_name=image_batch_job.name, statuses=statuses))


def _runs_waiting_to_start(context: SensorEvaluationContext) -> bool:
    return _runs_count(context, _WAITING) > 0


def _failed_ticks_before(context: SensorEvaluationContext, limit: int) -> int:
    """How many of this sensor's latest finished ticks failed in a row (0 where no tick history exists)."""
    from dagster._core.scheduler.instigation import InstigatorType, TickStatus

    states = [
        state
        for state in context.instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if state.instigator_name == context.sensor_name
    ]
    if not states:
        return 0
    streak = 0
    for tick in context.instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=limit + 1):
        if tick.status == TickStatus.STARTED:
            continue  # this very tick
        if tick.status != TickStatus.FAILURE:
            break
        streak += 1
    return streak


#: Dagster's sensor daemon runs its loop every 5 s (the local stack's: every IMGASSETS_SENSOR_INTERVAL_SECONDS,
#: imgassets/stack/daemon.py) and ticks a sensor when its minimum interval has passed since the previous tick
#: *started*, which is a moment after that loop began. A minimum equal to the loop's period is therefore still a
#: few milliseconds short in the next loop, and the sensor ticked only every other loop (10 s apart, measured).
TICK_SLACK_SECONDS = 1


def minimum_interval(interval_seconds: int) -> int:
    """Dagster's minimum interval for ticks `interval_seconds` apart (rounded up to the daemon's loop; 0: every
    loop)."""
    return max(0, interval_seconds - TICK_SLACK_SECONDS)


#: The sensor's name in the code location (Dagster's UI, its ticks and run tags; the benches find it by it).
SENSOR_NAME = "kafka_image_sensor"


def kafka_image_sensor(partitions: HourlyPartitionsDefinition, interval_seconds: int) -> SensorDefinition:
    """The sensor over the assets' `partitions`, ticking every `interval_seconds` (IMGASSETS_SENSOR_INTERVAL_SECONDS;
    Dagster reads a sensor's interval from its definition, so definitions.py passes it when the code loads)."""
    # The partitions definition's own start: the one the assets have.
    first_hour = layout.partition_key(partitions.start)

    @sensor(
        name=SENSOR_NAME,
        job=image_batch_job,
        minimum_interval_seconds=minimum_interval(interval_seconds),
        default_status=DefaultSensorStatus.RUNNING,
        description="Reads image messages from Kafka and launches one run per upload hour with that batch.",
    )
    def evaluate(
        context: SensorEvaluationContext,
        kafka: KafkaResource,
        s3: S3Resource,
        pipeline: PipelineResource,
        alerts: AlertResource,
    ) -> SensorResult | SkipReason:
        try:
            return _evaluate(context, kafka, s3, pipeline, first_hour)
        except Exception as exc:
            # Only infrastructure fails a tick (messages cost only themselves); the cursor stays, the next tick
            # retries. An operator hears of it once per streak, after IMGASSETS_ALERT_FAILED_TICKS in a row.
            threshold = alerts.failed_ticks
            try:
                streak = _failed_ticks_before(context, threshold) + 1
            except Exception:
                streak = 0
            if streak == threshold:
                alerts.send(f"{SENSOR_NAME}: {streak} failed ticks in a row; last error: {describe(exc)}")
            raise

    return evaluate


def _evaluate(
    context: SensorEvaluationContext,
    kafka: KafkaResource,
    s3: S3Resource,
    pipeline: PipelineResource,
    first_hour: str,
) -> SensorResult | SkipReason:
    if _runs_waiting_to_start(context):
        # Backpressure: while a run still waits for a slot, new messages stay in Kafka and join the next,
        # larger batch — per-run overhead shrinks under load instead of a queue of tiny runs building up.
        return SkipReason("a run is still waiting to start; the next batch keeps growing")
    cursor = Cursor.parse(context.cursor)
    with kafka.standing_consumer() as consumer:
        poll = read_messages(
            consumer,
            kafka.topic,
            cursor,
            s3.bucket,
            pipeline.sensor_poll_seconds,
            pipeline.sensor_max_messages,
            datetime.now(UTC),
            first_hour,
        )
    if poll.dead_letters:
        producer = kafka.producer()
        try:
            publish_dead_letters(producer, kafka.dlq_topic, poll.dead_letters)
        finally:
            producer.close()
        for letter in poll.dead_letters:
            context.log.warning(
                f"dead-lettered ({letter.kind}) {letter.topic}/{letter.partition}@{letter.offset}: {letter.reason}"
            )
    gaps = [letter for letter in poll.dead_letters if letter.kind == "gap"]
    if poll.read == 0 and not gaps:
        return SkipReason("no new image messages")
    # An idle pipeline answers a backlog with a small first run (its first results come sooner); a busy one
    # keeps batches large, which amortizes each run's start-up.
    idle = _runs_count(context, [*_WAITING, DagsterRunStatus.STARTED]) == 0
    requests = run_requests(
        kafka.topic, poll.batches, pipeline.batch_max_images, pipeline.batch_first_images if idle else None
    )
    context.log.info(
        f"read {poll.read} messages: {sum(len(b) for b in poll.batches.values())} images in "
        f"{len(requests)} runs, {len(poll.dead_letters) - len(gaps)} dead-lettered, {len(gaps)} offset gaps, "
        f"lag {poll.lag}"
    )
    return SensorResult(run_requests=requests, cursor=poll.cursor.serialize())
