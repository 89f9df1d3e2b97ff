"""No batch vanishes: a sensor run that ends in FAILURE after Dagster's retries, or is CANCELED, has its batch
requested again (up to IMGASSETS_BATCH_REQUEUE_LIMIT times), and after that every message of the batch that
still has no detection or rejection record goes to the dead-letter topic with the reason "run <id> failed:
<error>".

The Kafka sensor's cursor has already moved past those messages and its run key de-duplicates the original
request, so without this the batch would be lost on an ordinary operational event. A re-request's run key is
derived from the original one and the attempt (`<run key>/requeue-<n>`), so a replayed tick of this sensor
cannot launch it twice.
"""

from __future__ import annotations

from typing import Any, cast

from dagster import (
    DagsterEventType,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    SkipReason,
    run_status_sensor,
)
from dagster._core.storage.tags import WILL_RETRY_TAG
from kafka import KafkaConsumer, TopicPartition

from imgassets.core import messages
from imgassets.core.storage import ObjectStore
from imgassets.defs.batch import REQUEUE_TAG, ImageRef, hour_manifests, hour_shards
from imgassets.defs.jobs import image_batch_job
from imgassets.defs.kafka_sensor import TRIGGER_KAFKA, TRIGGER_TAG, publish_dead_letters
from imgassets.defs.resource_types import (
    AlertResource,
    KafkaResource,
    PipelineResource,
    S3Resource,
)

#: On a re-requested run: the original request's run key, and which re-request this is.
BATCH_KEY_TAG = "imgassets/batch_key"


def _will_retry(context: RunStatusSensorContext, run: DagsterRun) -> bool:
    """Whether Dagster's run retries will re-execute this failed run (then it is not final yet). The tag is set
    right after the failure event is stored; where this sensor sees the run in between, ask Dagster's own rule."""
    tag = run.tags.get(WILL_RETRY_TAG)
    if tag is not None:
        return tag == "true"
    if not context.instance.run_retries_enabled:
        return False
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import should_retry

    return should_retry(run, context.instance)


def failure_reason(context: RunStatusSensorContext, run: DagsterRun) -> str:
    """What went wrong, in a line: the failed steps' errors, else the run's own failure message."""
    if run.status == DagsterRunStatus.CANCELED:
        return "canceled"
    errors = []
    for record in context.instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        data = event.step_failure_data if event is not None else None
        if event is not None and data is not None and data.error is not None:
            errors.append(f"{event.step_key}: {data.error.cls_name}: {data.error.message.strip()}")
    if not errors and context.dagster_event is not None and context.dagster_event.message:
        errors.append(context.dagster_event.message)
    return " ".join("; ".join(errors).split())[:1500] or "failed"


def unrecorded(store: ObjectStore, partition: str, refs: list[ImageRef]) -> list[ImageRef]:
    """The batch's images that no run has accounted for: neither in a detections shard nor rejected in a
    manifest or shard. A detection record alone does not count: a run killed before writing its shard leaves
    records the hour summary never sees; the dead letter (and its replay) brings them in."""
    # A shard or manifest that cannot be read accounts for nothing: an image only it knew of is dead-lettered,
    # and its replay is idempotent.
    handled: set[str] = set()
    for shard in hour_shards(store, partition)[0]:
        handled.update(image.image_key for image in shard.images)
        handled.update(rejected.image_key for rejected in shard.rejected)
    for manifest in hour_manifests(store, partition)[0]:
        handled.update(rejection.image_key for rejection in manifest.rejected)
    return [ref for ref in refs if ref.key not in handled]


def original_values(
    consumer: KafkaConsumer, refs: list[ImageRef], timeout_ms: int = 20_000
) -> dict[tuple[str, int, int], bytes]:
    """The Kafka values the batch's messages had, read back by offset (those retention kept)."""
    wanted: dict[TopicPartition, set[int]] = {}
    for ref in refs:
        if (kafka := ref.kafka) is not None:
            wanted.setdefault(TopicPartition(kafka.topic, kafka.partition), set()).add(kafka.offset)
    if not wanted:
        return {}
    consumer.assign(list(wanted))
    ends = consumer.end_offsets(list(wanted))
    for tp, offsets in wanted.items():
        consumer.seek(tp, min(offsets))
    found: dict[tuple[str, int, int], bytes] = {}
    remaining = {tp: max(offsets) for tp, offsets in wanted.items()}
    polls = max(1, timeout_ms // 500)
    while remaining and polls:
        polls -= 1
        for tp, records in consumer.poll(timeout_ms=500).items():
            for record in records:
                if record.offset in wanted.get(tp, ()):
                    found[(tp.topic, tp.partition, record.offset)] = record.value
            if tp in remaining and (consumer.position(tp) > remaining[tp] or consumer.position(tp) >= ends[tp]):
                remaining.pop(tp)
                consumer.pause(tp)
    return found


def _batch_of(run: DagsterRun) -> list[ImageRef]:
    """The images a sensor run carried in raw_images' config (empty for a run of the whole hour)."""
    config = cast(dict[str, Any], run.run_config).get("ops", {}).get("raw_images", {}).get("config", {})
    return [ImageRef(**ref) for ref in config.get("images", [])]


def _rescue(
    context: RunStatusSensorContext,
    kafka: KafkaResource,
    s3: S3Resource,
    pipeline: PipelineResource,
    alerts: AlertResource,
) -> RunRequest | SkipReason:
    run = context.dagster_run
    if run.status == DagsterRunStatus.FAILURE and _will_retry(context, run):
        return SkipReason(f"run {run.run_id} will be retried by Dagster")
    reason = failure_reason(context, run)
    if run.tags.get(TRIGGER_TAG) != TRIGGER_KAFKA:
        alerts.send(
            f"run {run.run_id} ({run.job_name}, {run.tags.get('dagster/partition', 'no partition')}) "
            f"ended {run.status.value}: {reason}"
        )
        return SkipReason(f"run {run.run_id} was not launched by the Kafka sensor: nothing to re-request")
    root = context.instance.get_run_by_id(run.root_run_id) if run.root_run_id else run
    root = root or run
    batch_key = root.tags.get(BATCH_KEY_TAG) or root.tags.get("dagster/run_key") or root.run_id
    attempt = int(root.tags.get(REQUEUE_TAG, "0"))
    partition = root.tags.get("dagster/partition")
    refs = _batch_of(root)
    limit = pipeline.batch_requeue_limit
    if partition and refs and attempt < limit:
        alerts.send(
            f"run {run.run_id} ({partition}, {len(refs)} images) ended {run.status.value}: {reason}; "
            f"its batch is requested again ({attempt + 1} of {limit})"
        )
        context.log.warning(
            f"run {run.run_id} ended {run.status.value}: re-requesting its batch ({attempt + 1}/{limit})"
        )
        return RunRequest(
            run_key=f"{batch_key}/requeue-{attempt + 1}",
            partition_key=partition,
            run_config=root.run_config,
            tags={
                TRIGGER_TAG: TRIGGER_KAFKA,
                "imgassets/images": str(len(refs)),
                BATCH_KEY_TAG: batch_key,
                REQUEUE_TAG: str(attempt + 1),
            },
        )
    return _dead_letter_batch(context, run, partition, refs, reason, kafka, s3, alerts)


def _dead_letter_batch(
    context: RunStatusSensorContext,
    run: DagsterRun,
    partition: str | None,
    refs: list[ImageRef],
    reason: str,
    kafka: KafkaResource,
    s3: S3Resource,
    alerts: AlertResource,
) -> SkipReason:
    missing = unrecorded(s3.store(), partition, refs) if partition else refs
    consumer = kafka.consumer()
    try:
        values = original_values(consumer, missing)
    finally:
        consumer.close()
    text = f"run {run.run_id} failed: {reason}"
    letters = [
        messages.DeadLetter.build(
            text,
            ref.topic or kafka.topic,
            ref.partition if ref.partition is not None else -1,
            ref.offset if ref.offset is not None else -1,
            values.get((ref.kafka.topic, ref.kafka.partition, ref.kafka.offset)) if ref.kafka else None,
            kind="batch",
            image_key=ref.key,
            run_id=run.run_id,
        )
        for ref in missing
    ]
    if letters:
        producer = kafka.producer()
        try:
            publish_dead_letters(producer, kafka.dlq_topic, letters)
        finally:
            producer.close()
        alerts.send(
            f"{len(letters)} of {len(refs)} images of {partition} dead-lettered after run {run.run_id} "
            f"ended {run.status.value}: {reason}"
        )
    context.log.warning(f"run {run.run_id}: {len(letters)} of {len(refs)} messages dead-lettered ({reason})")
    return SkipReason(
        f"batch of run {run.run_id}: {len(letters)} messages dead-lettered, {len(refs) - len(letters)} recorded"
    )


def _rescue_sensor(status: DagsterRunStatus, name: str) -> SensorDefinition:
    return run_status_sensor(
        name=name,
        run_status=status,
        request_job=image_batch_job,
        default_status=DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=5,
        description=f"A run that ends {status.value} (after Dagster's retries): its Kafka batch is requested again "
        "up to IMGASSETS_BATCH_REQUEUE_LIMIT times, then its unrecorded messages are dead-lettered; alerts.",
    )(_rescue)


failed_batch_sensor = _rescue_sensor(DagsterRunStatus.FAILURE, "failed_batch_sensor")
canceled_batch_sensor = _rescue_sensor(DagsterRunStatus.CANCELED, "canceled_batch_sensor")
