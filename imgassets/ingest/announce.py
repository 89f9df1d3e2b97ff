"""Ingest: upload images (and frames extracted from videos) to S3, then announce each on Kafka.

Order per image: dedupe marker check → 'pending' marker (fixes the key) → upload → Kafka send, acknowledged →
'sent' marker. A crash anywhere re-runs to the same key, so an image is never announced under two keys; a
re-sent message is harmless because the pipeline's writes are idempotent.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import KafkaProducer

from imgassets.core import images, layout, messages
from imgassets.core.messages import ImageMessage
from imgassets.core.pipelining import prefetch
from imgassets.core.storage import ObjectStore
from imgassets.ingest.media import Item, check_source_name, default_source_name


@dataclass
class Report:
    sent: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: The failures worth retrying (an upload or send raised: S3 or Kafka trouble), with their reason; the
    #: others (not an image) would fail the same way again.
    retryable: list[tuple[Item, str]] = field(default_factory=list)


class Ingestor:
    def __init__(self, store: ObjectStore, producer: KafkaProducer, topic: str, source_name: str | None = None) -> None:
        """`source_name`: the camera or site id every image of this ingest carries (default: this host)."""
        self.store = store
        self.producer = producer
        self.topic = topic
        self.source_name = check_source_name(source_name) if source_name else default_source_name()
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def ingest(self, item: Item) -> tuple[str, str]:
        """Returns ('sent'|'duplicate'|'failed', image key or reason)."""
        content_type = images.sniff_content_type(item.data)
        if content_type is None:
            return "failed", "not a supported image (JPEG, PNG, WebP, BMP, TIFF)"
        sha256 = images.sha256_hex(item.data)
        with self._locks_guard:
            lock = self._locks[sha256]
        with lock:  # identical files in one batch: the second sees the first's marker
            return self._ingest(item, sha256, content_type)

    def _ingest(self, item: Item, sha256: str, content_type: str) -> tuple[str, str]:
        marker_key = layout.ingest_marker_key(sha256)
        marker = self.store.get_optional(marker_key)
        if marker is not None:
            state = json.loads(marker.data)
            if state.get("state") == "sent":
                return "duplicate", state["key"]
            key, uploaded_at = state["key"], datetime.fromisoformat(state["uploaded_at"])
        else:
            uploaded_at = datetime.now(UTC)
            key = layout.image_key(sha256, item.name, uploaded_at)
            self._mark(marker_key, key, uploaded_at, "pending")
        message = ImageMessage(
            bucket=self.store.bucket,
            key=key,
            size=len(item.data),
            sha256=sha256,
            content_type=content_type,
            uploaded_at=uploaded_at,
            source=item.source.model_copy(update={"name": item.source.name or self.source_name}),
        )
        self.store.put_bytes(key, item.data, content_type, messages.object_metadata(message))
        self.producer.send(self.topic, key=key.encode(), value=messages.encode(message)).get(timeout=60)
        self._mark(marker_key, key, uploaded_at, "sent")
        return "sent", key

    def _mark(self, marker_key: str, key: str, uploaded_at: datetime, state: str) -> None:
        body = json.dumps({"key": key, "uploaded_at": uploaded_at.isoformat(), "state": state}).encode()
        self.store.put_bytes(marker_key, body, "application/json")

    def ingest_many(
        self,
        items: Iterable[Item],
        workers: int = 4,
        progress: object | None = None,
        on_result: Callable[[Item, str, str], None] | None = None,
    ) -> Report:
        """Ingests concurrently (uploads overlap); one bad item is reported and the rest go on.

        `on_result(item, outcome, detail)` is called per item, in order: outcome 'sent' or 'duplicate' (detail:
        the image key), 'failed' (not an image; detail: why) or 'error' (the upload or send raised; worth a
        retry)."""
        report = Report()

        def one(item: Item) -> tuple[Item, str, str]:
            try:
                outcome, detail = self.ingest(item)
            except Exception as exc:
                outcome, detail = "error", f"{type(exc).__name__}: {exc}"
            return item, outcome, detail

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for item, outcome, detail in prefetch(pool, one, items, ahead=workers * 2):
                if outcome == "sent":
                    report.sent.append(detail)
                elif outcome == "duplicate":
                    report.duplicates.append(detail)
                else:
                    report.failed.append((item.source.path, detail))
                    if outcome == "error":
                        report.retryable.append((item, detail))
                if on_result is not None:
                    on_result(item, outcome, detail)
                if progress is not None:
                    progress.update(1)  # type: ignore[attr-defined]
        return report
