"""`imgassets dlq list|replay`: the dead-letter topic, read and selected, its letters sent again."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

if TYPE_CHECKING:  # the commands import their modules when they run, so `imgassets --help` stays fast
    from imgassets.core import dlq as dead_letters

from imgassets.cli.common import fail, settings_or_fail


class _When(click.ParamType):
    name = "WHEN"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> object:
        from imgassets.core.dlq import parse_when

        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _selection_options(command: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option(
            "--reason",
            "reasons",
            multiple=True,
            metavar="TEXT",
            help="Reason contains TEXT (case-insensitive); repeat for any of several.",
        ),
        click.option(
            "--kind",
            "kinds",
            multiple=True,
            type=click.Choice(["message", "batch", "gap"]),
            help="Only this kind; repeat for several.",
        ),
        click.option("--since", type=_When(), help="Failed at or after: ISO date/time (UTC) or an age (2h, 7d)."),
        click.option("--until", type=_When(), help="Failed at or before: ISO date/time (UTC) or an age (2h, 7d)."),
        click.option("--limit", type=click.IntRange(0), help="At most this many (the oldest first)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.group()
@click.option(
    "--timeout",
    type=click.FloatRange(0.5),
    default=30,
    show_default=True,
    help="Seconds to wait for Kafka before giving up.",
)
@click.pass_context
def dlq(ctx: click.Context, timeout: float) -> None:
    """The dead-letter topic (IMGASSETS_KAFKA_DLQ_TOPIC): list and replay dead letters.

    Kinds: message (the sensor could not use it), batch (its run failed for good), gap (offsets vanished from
    Kafka before they were read; nothing to replay).
    """
    ctx.obj = {"timeout": timeout}


def _dlq_selection(
    reasons: tuple[str, ...], kinds: tuple[str, ...], since: datetime | None, until: datetime | None, limit: int | None
) -> dead_letters.Selection:
    from imgassets.core.dlq import Selection

    return Selection(reasons=reasons, kinds=kinds, since=since, until=until, limit=limit)  # type: ignore[arg-type]


@dlq.command("list")
@_selection_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (the count goes to stderr).")
@click.pass_context
def dlq_list(ctx: click.Context, as_json: bool, **selection_options: Any) -> None:
    """Read the dead-letter topic from its beginning to its current end and show each dead letter:
    failed at, kind, source topic/partition@offset, image key, reason.

    \b
    imgassets dlq list --since 2h
    imgassets dlq list --kind batch --reason "S3" --json
    """
    from imgassets.core import dlq as dead_letters

    settings = settings_or_fail()
    selection = _dlq_selection(**selection_options)
    count = invalid = 0
    try:
        for entry in dead_letters.select(
            dead_letters.read_dead_letters(settings, timeout=ctx.obj["timeout"]), selection
        ):
            count += 1
            invalid += entry.letter is None
            click.echo(json.dumps(entry.to_json()) if as_json else entry.line())
    except dead_letters.DlqError as exc:
        fail(str(exc))
    noun = "dead letter" if count == 1 else "dead letters"
    extra = f" ({invalid} not valid dead-letter records)" if invalid else ""
    click.echo(f"{count} {noun} in {settings.kafka_dlq_topic}{extra}", err=as_json)


@dlq.command("replay")
@_selection_options
@click.option("--to-topic", help="Send here instead of the image topic (IMGASSETS_KAFKA_TOPIC).")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.pass_context
def dlq_replay(ctx: click.Context, to_topic: str | None, dry_run: bool, **selection_options: Any) -> None:
    """Re-announce the selected dead letters' original messages on the image topic.

    Each value is sent as it was first received, keyed by its image key (when it is a JSON message with a
    "key"), and counted as replayed only once Kafka acknowledged it. Gaps and letters without their original
    value are listed as not replayable and never sent. Replaying a letter twice announces it twice; that is
    harmless, because the pipeline's writes are idempotent (records are overwritten, never duplicated).
    Fix the cause first (say S3 was down), then replay.

    \b
    imgassets dlq replay --kind batch --since 1d --dry-run
    imgassets dlq replay --reason "outside the partitions"
    """
    from imgassets.core import dlq as dead_letters

    settings = settings_or_fail()
    selection = _dlq_selection(**selection_options)
    timeout = ctx.obj["timeout"]
    try:
        chosen = list(dead_letters.select(dead_letters.read_dead_letters(settings, timeout=timeout), selection))
        sendable = sum(1 for entry in chosen if not dead_letters.plan(entry).not_replayable)
        with tqdm(total=sendable, desc="replaying", unit="msg", disable=None if sendable > 1 else True) as progress:

            def show(outcome: str, planned: dead_letters.Planned, error: str | None) -> None:
                where = _dlq_where(planned.entry)
                if outcome == "not replayable":
                    progress.write(f"not replayable: {where}: {error}", file=sys.stderr)
                    return
                progress.update(1)
                target = f"{planned.key.decode(errors='replace') if planned.key else '-'}"
                if outcome == "failed":
                    progress.write(f"failed: {where}: {error}", file=sys.stderr)
                elif outcome == "would replay":
                    progress.write(
                        f"would send {where} → {report_topic} key {target} ({len(planned.value or b'')} bytes)"
                    )
                else:
                    progress.write(f"sent {where} → {report_topic} key {target}")

            report_topic = to_topic or settings.kafka_topic
            report = dead_letters.replay(settings, chosen, to_topic, dry_run, timeout, show)
    except dead_letters.DlqError as exc:
        fail(str(exc))
    click.echo(report.summary())
    if report.failed:
        sys.exit(1)


def _dlq_where(entry: object) -> str:
    letter = entry.letter  # type: ignore[attr-defined]
    if letter is None:
        return f"dead-letter record {entry.partition}@{entry.offset}"  # type: ignore[attr-defined]
    return f"{letter.topic}/{letter.partition}@{letter.offset} ({letter.kind})"
