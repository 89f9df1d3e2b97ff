"""All configuration, read once from the environment and a git-ignored `.env`.

Every variable is `IMGASSETS_<FIELD>` (upper case). The defaults point at the embedded local stack
(`imgassets stack up`), so the same code reaches Hetzner Object Storage or a SASL Kafka by environment alone.
Secrets are `SecretStr`: they never appear in reprs, logs or Dagster's UI.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from imgassets.core.layout import InvalidKey, parse_partition

ENV_PREFIX = "IMGASSETS_"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def env_file() -> Path:
    """The git-ignored file with local settings and secrets (`IMGASSETS_ENV_FILE=/dev/null` disables it)."""
    return Path(os.environ.get("IMGASSETS_ENV_FILE", PROJECT_ROOT / ".env"))


Deployment = Literal["local", "compose"]

#: What each deployment changes from the defaults below (which are the local stack's); the environment overrides
#: any of them. The Dagster instance is keyed by the same name (imgassets/stack/templates/dagster.yaml.jinja).
DEPLOYMENT_DEFAULTS: dict[Deployment, dict[str, object]] = {
    "local": {},
    "compose": {
        "s3_endpoint_url": "http://s3:8333",
        "kafka_bootstrap_servers": "kafka:9092",
        "home": "/opt/dagster/home/imgassets",
        "query_url": "http://query:3002",
    },
}


class SettingsError(RuntimeError):
    """Configuration is missing or invalid; the message names the environment variable."""


# --- The viewer's password hash ------------------------------------------------------------------------------
# `scrypt:N=32768,r=8,p=1:<salt>:<key>`: scrypt (RFC 7914) of the password's UTF-8 bytes (NFC), salt and key in
# base64url without padding. No `$` in it: docker compose would expand it in an env_file. The viewer checks it with
# Node's built-in crypto.scrypt (frontend/app/lib/password.server.ts); docs/security.md describes the format.

#: scrypt's cost: 32 MiB and about 0.1 s per check here.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_PASSWORD_HASH = re.compile(r"scrypt:N=(\d{1,8}),r=(\d{1,2}),p=(\d{1,2}):([A-Za-z0-9_-]{22,88}):([A-Za-z0-9_-]{43,86})")
#: Memory one check may take (128·N·r bytes); the viewer refuses a hash that needs more.
SCRYPT_MAX_MEMORY = 256 * 2**20


@dataclass(frozen=True)
class PasswordHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_password_hash(text: str) -> PasswordHash:
    """The parameters of a hash made by `hash_viewer_password`; ValueError naming the format otherwise."""
    match = _PASSWORD_HASH.fullmatch(text.strip())
    problem = "expected the output of `imgassets viewer-password`: scrypt:N=32768,r=8,p=1:<salt>:<key>"
    if match is None:
        raise ValueError(problem)
    n, r, p = (int(match[i]) for i in (1, 2, 3))
    salt, key = _b64decode(match[4]), _b64decode(match[5])
    if n < 2**14 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * n * r > SCRYPT_MAX_MEMORY:
        raise ValueError(f"{problem} (N a power of two from 16384, 128·N·r at most 256 MiB, r ≤ 32, p ≤ 16)")
    if len(salt) < 16 or not 32 <= len(key) <= 64:
        raise ValueError(f"{problem} (a salt of 16+ bytes, a key of 32-64 bytes)")
    return PasswordHash(n, r, p, salt, key)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    data = unicodedata.normalize("NFC", password).encode("utf-8")
    return hashlib.scrypt(data, salt=salt, n=n, r=r, p=p, maxmem=2 * SCRYPT_MAX_MEMORY, dklen=length)


def hash_viewer_password(password: str, salt: bytes | None = None) -> str:
    """The value of IMGASSETS_VIEWER_PASSWORD_HASH for `password` (a fresh random salt unless given)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, 32)
    return f"scrypt:N={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}:{_b64encode(salt)}:{_b64encode(key)}"


def verify_viewer_password(password: str, encoded: str) -> bool:
    """Whether `password` is the one `encoded` was made from (constant-time comparison)."""
    wanted = parse_password_hash(encoded)
    derived = _scrypt(password, wanted.salt, wanted.n, wanted.r, wanted.p, len(wanted.key))
    return hmac.compare_digest(derived, wanted.key)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    #: Which deployment this is: local (`imgassets stack up`) or compose (the code image); picks the defaults
    #: of DEPLOYMENT_DEFAULTS and the Dagster instance's storage and run launcher.
    deployment: Deployment = "local"

    # --- S3-compatible object storage -------------------------------------------------------------
    s3_endpoint_url: str | None = "http://127.0.0.1:8333"
    s3_region: str = "us-east-1"
    s3_bucket: str = Field("imgassets", min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    s3_max_attempts: int = Field(5, ge=1, le=20)
    s3_io_threads: int = Field(8, ge=1, le=64)

    # --- Kafka ------------------------------------------------------------------------------------
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic: str = "images"
    kafka_dlq_topic: str = "images.dlq"
    kafka_topic_partitions: int = Field(4, ge=1, le=1000)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None

    # --- Detector ---------------------------------------------------------------------------------
    #: onnx: the same YOLOv4-tiny weights through ONNX Runtime, ~2x faster here, detections identical to
    #: OpenCV DNN (the reference, tested); the model is converted once and cached. none: finds nothing, at no
    #: cost: only for measuring the orchestration (`imgassets bench --detector none`).
    detector_backend: Literal["opencv", "onnx", "none"] = "onnx"
    detector_confidence: float = Field(0.5, gt=0.0, lt=1.0)
    detector_nms: float = Field(0.4, gt=0.0, le=1.0)
    detector_input_size: int = Field(416, ge=32, le=1280, multiple_of=32)
    detector_model_dir: Path | None = None
    #: Concurrent inference lanes, each a single network; unset = one per CPU core available.
    detector_lanes: int | None = Field(None, ge=1, le=64)
    #: The named detector versions and which one is active (imgassets/detector/versions.py); unset: the
    #: project's detector-versions.toml when there is one, else only `default` (the settings above).
    detector_versions_file: Path | None = None
    #: The version the Kafka sensor uses, overriding the versions file's `active` (unset: the file's).
    detector_active_version: str | None = None

    # --- Tracking ---------------------------------------------------------------------------------
    #: Each source's counting lines, zones and tracker settings (imgassets/core/sources.py); unset: the project's
    #: sources.toml when there is one, else every source with the default tracker settings.
    sources_file: Path | None = None
    #: Seconds between the tracks sensor's ticks: each recent hour whose detection table changed is tracked again
    #: at most this often (defs/track_sensor.py), so tracks lag by up to this plus the tracking time.
    tracks_interval_seconds: int = Field(30, ge=1, le=3600)

    # --- Pipeline ---------------------------------------------------------------------------------
    partitions_start: str = "2026-01-01-00:00"
    #: Seconds between Kafka sensor ticks; the local stack's daemon loops at this period (stack/dagster_patches.py;
    #: Dagster's own daemon, which compose and Kubernetes run, loops every 5 s).
    sensor_interval_seconds: int = Field(2, ge=1, le=3600)
    #: Seconds between the local stack's daemon's looks for new and finished backfills (Dagster's own: 30).
    backfill_interval_seconds: int = Field(5, ge=1, le=3600)
    sensor_poll_seconds: float = Field(10.0, gt=0, le=45)
    sensor_max_messages: int = Field(5000, ge=1, le=100_000)
    batch_max_images: int = Field(1000, ge=1, le=10_000)
    #: When no run is in progress, the first run of a tick's hour takes at most this many images, so results
    #: start sooner after a backlog; while runs are busy, batches stay large.
    batch_first_images: int = Field(50, ge=1, le=10_000)
    #: Two slots: a run starts while the one before it finishes its roll-ups (docs/performance.md).
    max_concurrent_runs: int = Field(2, ge=1, le=64)
    max_image_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(50_000_000, ge=1)
    max_rejection_rate: float = Field(0.2, ge=0.0, le=1.0)
    #: Decoded pixels held at once by one run (validation and detection together), in bytes.
    max_pixel_bytes_in_flight: int = Field(768 * 1024 * 1024, ge=16 * 1024 * 1024)
    #: A sensor run that fails for good (after Dagster's retries) or is cancelled is requested again this many
    #: times; after that its unrecorded messages go to the dead-letter topic.
    batch_requeue_limit: int = Field(2, ge=0, le=10)
    #: Each sensor run appends its own part to the hour's tables; an hour still filling is compacted once it has
    #: this many parts, a closed hour as soon as it has any (imgassets/core/table.py, defs/compaction.py).
    table_compact_parts: int = Field(64, ge=2, le=10_000)
    #: How many hours back the compaction sensor looks for parts to merge (late runs of older hours included), and
    #: the tracks sensor for changed tables.
    table_compact_lookback_hours: int = Field(24, ge=1, le=24 * 31)
    #: Finished runs older than this many days are deleted with their event logs by the hourly
    #: `purge_runs_schedule` (defs/retention.py), except the runs holding each asset partition's latest
    #: materialization; -1 keeps every run. 0 is refused: it could mean either "keep nothing" or "keep forever".
    run_retention_days: int = Field(14, ge=-1, le=36_500)

    # --- Alerts -----------------------------------------------------------------------------------
    #: Slack-compatible incoming webhook (JSON POST {"text": ...}); unset = no alerts. Secret: it holds a token.
    alert_webhook_url: SecretStr | None = None
    #: Alert after this many failed Kafka sensor ticks in a row.
    alert_failed_ticks: int = Field(3, ge=1, le=1000)

    # --- Local stack and viewer -------------------------------------------------------------------
    home: Path = PROJECT_ROOT / ".local"
    dagster_port: int = Field(3000, ge=1, le=65535)
    viewer_port: int = Field(3001, ge=1, le=65535)
    #: The local stack's Dagster code server (gRPC), which the webserver and the daemon share.
    dagster_code_port: int = Field(3003, ge=1, le=65535)
    dagster_url: str = "http://127.0.0.1:3000"
    viewer_url: str = "http://127.0.0.1:3001"
    #: The query endpoint (`imgassets serve-queries`) the viewer's server calls for search and hour pages.
    query_port: int = Field(3002, ge=1, le=65535)
    query_url: str = "http://127.0.0.1:3002"
    #: Memory for query data: ranges whose tables fit are fetched whole and kept for the next query; larger
    #: ranges are streamed from S3 by DuckDB.
    query_cache_mib: int = Field(1024, ge=0, le=1_048_576)

    # --- Access: the viewer's login, the query endpoint's token (docs/security.md) ------------------
    #: auto: a login when the viewer listens beyond loopback (its HOST), none on loopback; login: always;
    #: proxy: the user a trusted reverse proxy names in `viewer_proxy_user_header`; none: no check at all.
    viewer_auth: Literal["auto", "login", "proxy", "none"] = "auto"
    #: The one user of login mode; its password's hash (`imgassets viewer-password` makes it) and the secret
    #: that signs the session cookie (HMAC-SHA256, 32+ characters). The hash is a secret too: it would let
    #: someone test guesses offline.
    viewer_user: str | None = Field(None, min_length=1, max_length=200)
    viewer_password_hash: SecretStr | None = None
    viewer_session_secret: SecretStr | None = None
    #: A login lasts this long (the cookie's Max-Age and the signed expiry).
    viewer_session_hours: int = Field(12, ge=1, le=24 * 30)
    #: The cookie's Secure flag: unset = when the request came over https (directly or per X-Forwarded-Proto).
    viewer_cookie_secure: bool | None = None
    #: Proxy mode: the request header naming the signed-in user (oauth2-proxy: X-Forwarded-User).
    viewer_proxy_user_header: str = Field("X-Forwarded-User", pattern=r"^[A-Za-z0-9-]+$")
    #: Failed logins per client address per minute; more answer 429 until the minute has passed.
    viewer_login_attempts: int = Field(5, ge=1, le=1000)
    #: The bearer token the viewer's server sends to the query endpoint, which refuses requests without it
    #: (except /health); `serve-queries` does not start without one. The local stack makes its own.
    query_token: SecretStr | None = None
    #: Host header names the query endpoint answers, comma-separated (`*.example.com` allowed); the host of
    #: `query_url` is added. Anything else gets 400 (DNS rebinding).
    query_allowed_hosts: str = "localhost,127.0.0.1,[::1],query"

    @model_validator(mode="before")
    @classmethod
    def _deployment_defaults(cls, values: object) -> object:
        if not isinstance(values, dict):
            return values
        chosen = values.get("deployment", "local")
        return DEPLOYMENT_DEFAULTS.get(chosen, {}) | values

    @field_validator("partitions_start")
    @classmethod
    def _hour_format(cls, value: str) -> str:
        try:
            parse_partition(value)
        except InvalidKey as exc:
            raise ValueError("expected a whole hour like 2026-01-01-00:00") from exc
        return value

    @field_validator("run_retention_days")
    @classmethod
    def _retention_not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("0 is ambiguous: give the days to keep finished runs (1 or more), or -1 to keep them all")
        return value

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port[,host:port], got {server!r}")
        return value

    @field_validator(
        "viewer_user",
        "viewer_password_hash",
        "viewer_session_secret",
        "viewer_cookie_secure",
        "query_token",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `IMGASSETS_VIEWER_USER=` in .env means unset, as the viewer reads it.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("viewer_password_hash")
    @classmethod
    def _password_hash(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_password_hash(value.get_secret_value())
        return value

    @field_validator("viewer_session_secret", "query_token")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None:
            return None
        shortest = 32 if info.field_name == "viewer_session_secret" else 16
        text = value.get_secret_value()
        if "CHANGE_ME" in text or len(text) < shortest:
            raise ValueError(
                f"expected {shortest} or more random characters, e.g. from "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("query_allowed_hosts")
    @classmethod
    def _host_patterns(cls, value: str) -> str:
        for pattern in value.split(","):
            pattern = pattern.strip()
            if not pattern or "*" in pattern[1:] or (pattern.startswith("*") and not pattern.startswith("*.")):
                raise ValueError(f"expected host names like query, 127.0.0.1, [::1] or *.example.com, got {pattern!r}")
        return value

    @model_validator(mode="after")
    def _sasl_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"{ENV_PREFIX}KAFKA_SASL_USERNAME and {ENV_PREFIX}KAFKA_SASL_PASSWORD are required "
                f"when {ENV_PREFIX}KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        return self

    @property
    def kafka_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",")]

    @property
    def kafka_host(self) -> str:
        """The first broker's host: the address the local stack's broker listens on and advertises."""
        return self.kafka_servers[0].rpartition(":")[0].strip("[]")

    @property
    def kafka_port(self) -> int:
        return int(self.kafka_servers[0].rpartition(":")[2])

    @property
    def s3_host(self) -> str:
        """The S3 endpoint's host: the address the local stack's S3 server listens on."""
        from urllib.parse import urlparse

        return urlparse(self.s3_endpoint_url or "").hostname or "127.0.0.1"

    @property
    def query_hosts(self) -> list[str]:
        """The Host names the query endpoint answers: `query_allowed_hosts` and the host of `query_url`."""
        from urllib.parse import urlsplit

        hosts = [h.strip().lower() for h in self.query_allowed_hosts.split(",")]
        own = urlsplit(self.query_url).hostname
        if own:
            own = f"[{own}]" if ":" in own else own.lower()
            hosts += [] if own in hosts else [own]
        return hosts

    @property
    def s3_port(self) -> int:
        from urllib.parse import urlparse

        return urlparse(self.s3_endpoint_url or "").port or 443

    def require_s3_credentials(self) -> tuple[str, str]:
        """The S3 key pair; fails naming the variables when unset."""
        if self.s3_access_key_id is None or self.s3_secret_access_key is None:
            raise SettingsError(
                f"{ENV_PREFIX}S3_ACCESS_KEY_ID and {ENV_PREFIX}S3_SECRET_ACCESS_KEY must be set "
                "(in the environment or .env; `imgassets stack up` writes local ones to .env)"
            )
        return self.s3_access_key_id.get_secret_value(), self.s3_secret_access_key.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Reads settings, turning validation errors into one message that names each bad variable."""
    try:
        return Settings(**({"_env_file": env_file()} | overrides))  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) if error["loc"] else ""
            name = f"{ENV_PREFIX}{field.upper()}" if field else "configuration"
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems)) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call `get_settings.cache_clear()` after changing env)."""
    return load_settings()
