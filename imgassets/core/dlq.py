"""The dead-letter topic: read it, select letters by reason, kind and time, and replay their original values.

Used by `imgassets dlq list|replay`; every function works from Python too:

    entries = read_dead_letters(get_settings())
    chosen = list(select(entries, Selection(reasons=("outside the partitions",), since=parse_when("2h"))))
    report = replay(get_settings(), chosen)

A replay re-announces a letter's original value on the image topic; replaying a letter twice announces it twice,
which is harmless because the pipeline's writes are idempotent (records are keyed per image and per run).
"""

from __future__ import annotations

import base64
import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError
from pydantic import ValidationError

from imgassets.core import kafka_io
from imgassets.core.messages import MAX_MESSAGE_BYTES, DeadLetter, named_key
from imgassets.core.settings import Settings

Client = TypeVar("Client")

Kind = Literal["message", "batch", "gap"]
KINDS: tuple[Kind, ...] = ("message", "batch", "gap")
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.I)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DlqError(RuntimeError):
    """Kafka cannot be reached, a topic is missing, or reading stalled; the message says which."""


@dataclass(frozen=True)
class Entry:
    """One record of the dead-letter topic: a `DeadLetter`, or a value that is not one (`problem` says why)."""

    partition: int
    offset: int
    raw: bytes | None
    letter: DeadLetter | None = None
    problem: str | None = None

    @classmethod
    def parse(cls, partition: int, offset: int, raw: bytes | None) -> Entry:
        if raw is None:
            return cls(partition, offset, raw, problem="empty record (tombstone)")
        try:
            return cls(partition, offset, raw, letter=DeadLetter.model_validate_json(raw))
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors()[:3]
            )
            return cls(partition, offset, raw, problem=f"not a dead-letter record: {details}")

    @property
    def failed_at(self) -> datetime | None:
        if self.letter is None:
            return None
        value = self.letter.failed_at
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @property
    def reason(self) -> str:
        return self.letter.reason if self.letter else (self.problem or "")

    def line(self) -> str:
        """failed_at, kind, source topic/partition@offset, image key, reason: one line."""
        if self.letter is None:
            size = 0 if self.raw is None else len(self.raw)
            where = f"dead-letter record {self.partition}@{self.offset}"
            return f"{'-':20}  {'invalid':7}  {where}  -  {one_line(self.reason)} ({size} bytes)"
        letter = self.letter
        source = f"{letter.topic}/{letter.partition}@{letter.offset}"
        if letter.kind == "gap" and letter.last_offset is not None:
            source += f"-{letter.last_offset}"
        when = self.failed_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.failed_at else "-"
        image = one_line(letter.named_image_key or "-")
        return f"{when:20}  {letter.kind:7}  {source}  {image}  {one_line(letter.reason)}"

    def to_json(self) -> dict[str, object]:
        """The dead letter as stored, plus where it sits in the dead-letter topic (`dlq`)."""
        where = {"partition": self.partition, "offset": self.offset}
        if self.letter is None:
            return {
                "dlq": where,
                "invalid": self.problem,
                "value_base64": None if self.raw is None else base64.b64encode(self.raw).decode(),
            }
        return {"dlq": where} | self.letter.model_dump(mode="json", by_alias=True)


def one_line(text: str, width: int = 200) -> str:
    """The first line of `text`, cut to `width` characters."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > width or len(lines) > 1:
        first = first[: width - 1].rstrip() + "…"
    return first


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An ISO date/time (UTC unless it carries an offset) or a time ago: `90s`, `15m`, `2h`, `7d`, `1w`."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = float(relative[1]), relative[2].lower()
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"expected an ISO date/time (2026-11-25T04:00) or an age (2h, 7d), got {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Selection:
    """Which dead letters: any of `reasons` (case-insensitive substrings), any of `kinds`, failed in
    [`since`, `until`], at most `limit`. Records that are not dead letters match only when no kind or time
    bound is set (they have neither); `reasons` is matched against why they are not one."""

    reasons: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def matches(self, entry: Entry) -> bool:
        if self.reasons and not any(r.lower() in entry.reason.lower() for r in self.reasons):
            return False
        if entry.letter is None:
            return not (self.kinds or self.since or self.until)
        if self.kinds and entry.letter.kind not in self.kinds:
            return False
        failed_at = entry.failed_at
        assert failed_at is not None
        if self.since and failed_at < self.since:
            return False
        return not (self.until and failed_at > self.until)


def select(entries: Iterable[Entry], selection: Selection) -> Iterator[Entry]:
    """The entries `selection` matches, in topic order, stopping after `limit`."""
    if selection.limit is not None and selection.limit <= 0:
        return
    chosen = 0
    for entry in entries:
        if selection.matches(entry):
            yield entry
            chosen += 1
            if selection.limit is not None and chosen >= selection.limit:
                return


def _config(settings: Settings) -> dict[str, object]:
    return kafka_io.settings_client_config(settings)


def check_topics(settings: Settings, topics: Iterable[str], timeout: float = 30) -> None:
    """Fails with a clear `DlqError` when Kafka is unreachable or any of `topics` does not exist."""
    wanted = list(dict.fromkeys(topics))
    try:
        admin = KafkaAdminClient(
            **_config(settings), bootstrap_timeout_ms=int(timeout * 1000), request_timeout_ms=int(timeout * 1000)
        )
    except KafkaError as exc:
        raise DlqError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}") from None
    try:
        existing = set(admin.list_topics())
    except KafkaError as exc:
        raise DlqError(f"cannot list Kafka topics at {settings.kafka_bootstrap_servers}: {exc}") from None
    finally:
        admin.close()
    missing = [t for t in wanted if t not in existing]
    if missing:
        raise DlqError(
            f"Kafka topic {', '.join(map(repr, missing))} does not exist at {settings.kafka_bootstrap_servers} "
            "(check IMGASSETS_KAFKA_TOPIC / IMGASSETS_KAFKA_DLQ_TOPIC, or run `imgassets stack up`)"
        )


def _connect(settings: Settings, make: Callable[[dict[str, object]], Client]) -> Client:
    """A Kafka client; an unreachable broker is a `DlqError` naming the address."""
    try:
        return make(_config(settings))
    except KafkaError as exc:
        raise DlqError(f"cannot reach Kafka at {settings.kafka_bootstrap_servers}: {exc}") from None


def read_dead_letters(settings: Settings, topic: str | None = None, timeout: float = 30) -> Iterator[Entry]:
    """Every record of the dead-letter topic, from the beginning to its end when the read starts (all
    partitions, each in offset order). Raises `DlqError` when Kafka or the topic is missing, or when no
    record arrives for `timeout` seconds although some are due."""
    topic = topic or settings.kafka_dlq_topic
    check_topics(settings, [topic], timeout)
    consumer = _connect(settings, kafka_io.make_consumer)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            raise DlqError(f"Kafka topic {topic!r} does not exist at {settings.kafka_bootstrap_servers}")
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        position = {tp: consumer.position(tp) for tp in partitions}
        last_progress = time.monotonic()
        while any(position[tp] < ends[tp] for tp in partitions):
            polled = consumer.poll(timeout_ms=500)
            if not polled:
                if time.monotonic() - last_progress > timeout:
                    raise DlqError(f"reading {topic!r} stalled: nothing received for {timeout:.0f} s")
                continue
            last_progress = time.monotonic()
            for tp, records in sorted(polled.items(), key=lambda item: item[0].partition):
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    yield Entry.parse(tp.partition, record.offset, record.value)
                position[tp] = consumer.position(tp)
    except KafkaError as exc:
        raise DlqError(f"reading {topic!r} failed: {type(exc).__name__}: {exc}") from None
    finally:
        consumer.close()


def list_dead_letters(settings: Settings, selection: Selection = Selection(), timeout: float = 30) -> list[Entry]:
    return list(select(read_dead_letters(settings, timeout=timeout), selection))


@dataclass(frozen=True)
class Planned:
    """What replaying one entry sends (`key`, `value`), or why it cannot (`not_replayable`)."""

    entry: Entry
    key: bytes | None = None
    value: bytes | None = None
    not_replayable: str | None = None


def plan(entry: Entry) -> Planned:
    """Kafka key = the image key when the original value is JSON with a string "key", else the dead letter's
    own key (source topic/partition@offset). Gaps, cut values and non-dead-letter records are not replayable."""
    letter = entry.letter
    if letter is None:
        return Planned(entry, not_replayable=entry.problem or "not a dead-letter record")
    if letter.kind == "gap":
        span = f"{letter.offset}-{letter.last_offset}" if letter.last_offset is not None else str(letter.offset)
        return Planned(entry, not_replayable=f"gap: offsets {span} vanished from Kafka before they were read; no value")
    if letter.value_base64 is None:
        return Planned(entry, not_replayable="no original value (the message was empty)")
    value = letter.value
    if value is None:
        return Planned(
            entry,
            not_replayable=(
                f"original value was {letter.value_size} bytes; only the first {MAX_MESSAGE_BYTES} were kept"
            ),
        )
    named = named_key(value)
    return Planned(entry, key=named.encode() if named else letter.kafka_key, value=value)


@dataclass
class ReplayReport:
    topic: str
    dry_run: bool
    replayed: list[Planned] = field(default_factory=list)
    not_replayable: list[Planned] = field(default_factory=list)
    failed: list[tuple[Planned, str]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "would replay" if self.dry_run else "replayed"
        text = f"{verb} {len(self.replayed)}, not replayable {len(self.not_replayable)}"
        return text + (f", failed {len(self.failed)}" if self.failed else "")


def replay(
    settings: Settings,
    entries: Iterable[Entry],
    to_topic: str | None = None,
    dry_run: bool = False,
    timeout: float = 30,
    on_result: Callable[[str, Planned, str | None], None] | None = None,
    chunk: int = 500,
) -> ReplayReport:
    """Sends each entry's original value to `to_topic` (the image topic by default) and waits for the broker's
    acknowledgement (acks=all) before reporting it replayed. `on_result(outcome, planned, error)` is called per
    entry with outcome 'replayed', 'would replay', 'not replayable' or 'failed'. Sending twice announces twice;
    the pipeline's writes are idempotent."""
    topic = to_topic or settings.kafka_topic
    if topic == settings.kafka_dlq_topic:
        raise DlqError(f"refusing to replay into the dead-letter topic {topic!r} itself")
    report = ReplayReport(topic, dry_run)
    notify = on_result or (lambda outcome, planned, error: None)
    plans = [plan(e) for e in entries]
    for planned in plans:
        if planned.not_replayable:
            report.not_replayable.append(planned)
            notify("not replayable", planned, planned.not_replayable)
    sendable = [p for p in plans if not p.not_replayable]
    if dry_run:
        if sendable:
            check_topics(settings, [topic], timeout)
        for planned in sendable:
            report.replayed.append(planned)
            notify("would replay", planned, None)
        return report
    if not sendable:
        return report
    check_topics(settings, [topic], timeout)
    producer = _connect(settings, kafka_io.make_producer)
    try:
        for start in range(0, len(sendable), chunk):
            batch = sendable[start : start + chunk]
            futures = []
            for planned in batch:
                try:
                    futures.append(producer.send(topic, key=planned.key, value=planned.value))
                except KafkaError as exc:
                    futures.append(exc)
            with contextlib.suppress(KafkaError):  # each send's own outcome is read below
                producer.flush(timeout=max(timeout, 60))
            for planned, future in zip(batch, futures, strict=False):
                try:
                    if isinstance(future, Exception):
                        raise future
                    future.get(timeout=max(timeout, 60))
                except KafkaError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                    report.failed.append((planned, error))
                    notify("failed", planned, error)
                else:
                    report.replayed.append(planned)
                    notify("replayed", planned, None)
    finally:
        producer.close()
    return report
