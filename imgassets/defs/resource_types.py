"""Dagster resources: S3, Kafka and the detector, configured from `imgassets.core.settings`.

Secrets reach resources as `EnvVar`s, so Dagster's UI shows the variable name, never the value.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar
from kafka import KafkaConsumer, KafkaProducer
from pydantic import PrivateAttr

from imgassets.core import alerts, kafka_io
from imgassets.core.settings import ENV_PREFIX, Settings
from imgassets.core.sources import Sources, load_sources
from imgassets.core.storage import ObjectStore
from imgassets.detector import Detector
from imgassets.detector.versions import DetectorConfig, DetectorVersion, Versions


def _fields(
    resource: type[ConfigurableResource], settings: Settings, prefix: str, secrets: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A resource's fields from the settings named `prefix + field`: paths as text; `secrets` as `EnvVar`s
    (shown by name in Dagster's UI, resolved only by the run or tick that uses them), or None when unset."""
    values: dict[str, Any] = {}
    for name in resource.model_fields:
        setting = f"{prefix}{name}"
        value = getattr(settings, setting)
        if name in secrets:
            value = EnvVar(f"{ENV_PREFIX}{setting.upper()}") if value is not None else None
        elif isinstance(value, Path):
            value = str(value)
        values[name] = value
    return values


class S3Resource(ConfigurableResource):
    """The pipeline's bucket on any S3-compatible service (SeaweedFS, MinIO, Hetzner Object Storage)."""

    endpoint_url: str | None
    region: str
    bucket: str
    addressing_style: str
    max_attempts: int
    io_threads: int
    access_key_id: str
    secret_access_key: str

    _store: ObjectStore | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Resource:
        values = _fields(cls, settings, "s3_", secrets=("access_key_id", "secret_access_key"))
        # The key pair is required: an unset one fails where it is used, naming its variable.
        values |= {name: EnvVar(f"{ENV_PREFIX}S3_{name.upper()}") for name in ("access_key_id", "secret_access_key")}
        return cls(**values)

    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = ObjectStore.connect(
                endpoint_url=self.endpoint_url,
                region=self.region,
                bucket=self.bucket,
                addressing_style=self.addressing_style,
                max_attempts=self.max_attempts,
                io_threads=self.io_threads,
                access_key_id=self.access_key_id,
                secret_access_key=self.secret_access_key,
            )
        return self._store


class KafkaResource(ConfigurableResource):
    """Kafka clients for the image topic and its dead-letter topic (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)."""

    bootstrap_servers: str
    topic: str
    dlq_topic: str
    security_protocol: str
    sasl_mechanism: str
    sasl_username: str | None
    sasl_password: str | None
    ssl_cafile: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaResource:
        return cls(**_fields(cls, settings, "kafka_", secrets=("sasl_password",)))

    def client_config(self) -> dict[str, object]:
        return kafka_io.client_config(
            self.bootstrap_servers,
            self.security_protocol,
            self.sasl_mechanism,
            self.sasl_username,
            self.sasl_password,
            self.ssl_cafile,
        )

    def consumer(self) -> KafkaConsumer:
        return kafka_io.make_consumer(self.client_config())

    def standing_consumer(self) -> contextlib.AbstractContextManager[KafkaConsumer]:
        """The consumer the sensor keeps between its ticks (`kafka_io.standing_consumer`)."""
        return kafka_io.standing_consumer(self.client_config())

    def producer(self) -> KafkaProducer:
        return kafka_io.make_producer(self.client_config())


class DetectorResource(ConfigurableResource):
    """The detector versions (imgassets/detector/versions.py): `default` is YOLOv4-tiny with the original
    project's thresholds and these fields; `versions_file` defines the others and which one is active."""

    backend: str
    input_size: int
    confidence: float
    nms: float
    model_dir: str | None
    lanes: int | None = None
    versions_file: str | None = None
    active_version: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DetectorResource:
        return cls(**_fields(cls, settings, "detector_"))

    def versions(self) -> Versions:
        return DetectorConfig(
            backend=self.backend,
            input_size=self.input_size,
            confidence=self.confidence,
            nms=self.nms,
            model_dir=Path(self.model_dir) if self.model_dir else None,
            versions_file=Path(self.versions_file) if self.versions_file else None,
            active_version=self.active_version,
        ).versions()

    def prepare(self, log: Callable[[str], None]) -> None:
        """Makes every version's model ready once: Darknet models converted to ONNX, `quantize` versions
        quantised, ONNX Runtime's optimized graphs saved (the code image's build and `stack up` run this, so no
        run spends its first seconds on it)."""
        from imgassets.detector.onnx_backend import OnnxDetector

        for version in sorted(self.versions().versions.values(), key=lambda v: v.name):
            started = time.monotonic()
            detector = self.load(version)
            if not isinstance(detector, OnnxDetector):
                log(f"{version.name:<16} {version.backend}: reads its model as it is, nothing to prepare")
                continue
            prepared = detector.optimized_model()
            log(f"{version.name:<16} {prepared} ({time.monotonic() - started:.1f} s)")

    def load(self, version: DetectorVersion | None = None) -> Detector:
        """The version's network (default: the active version's), loaded once per process (runs reuse it when
        executed in-process)."""
        return _cached_detector(version or self.versions().active, self.lanes)


@cache
def _cached_detector(version: DetectorVersion, lanes: int | None) -> Detector:
    return version.detector(lanes)


class TrackingResource(ConfigurableResource):
    """The sources' lines, zones and tracker settings (imgassets/core/sources.py), read when a run uses them."""

    sources_file: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackingResource:
        return cls(**_fields(cls, settings, ""))

    def sources(self) -> Sources:
        return load_sources(Path(self.sources_file) if self.sources_file else None)


class PipelineResource(ConfigurableResource):
    """The pipeline's tunables, for the assets and sensors: shown and overridable in Dagster's launchpad.

    Built from `Settings` (`from_settings`), which validates each value and names its variable on error; tests
    build it with the values they need instead of changing the environment.
    """

    sensor_poll_seconds: float
    sensor_max_messages: int
    batch_max_images: int
    batch_first_images: int
    batch_requeue_limit: int
    max_image_bytes: int
    max_image_pixels: int
    max_pixel_bytes_in_flight: int
    max_rejection_rate: float
    viewer_url: str
    table_compact_parts: int
    table_compact_lookback_hours: int
    run_retention_days: int

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> PipelineResource:
        return cls(**(_fields(cls, settings, "") | overrides))


class AlertResource(ConfigurableResource):
    """The optional alert webhook (IMGASSETS_ALERT_WEBHOOK_URL); without it, alerts are only logged."""

    webhook_url: str | None = None
    failed_ticks: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertResource:
        return cls(**_fields(cls, settings, "alert_", secrets=("webhook_url",)))

    def send(self, text: str) -> bool:
        """Sends `text` to the webhook; False when none is configured or delivery failed."""
        return alerts.post(self.webhook_url, text) if self.webhook_url else False
