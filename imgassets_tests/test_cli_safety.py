"""Secrets stay out of the CLI's logs (also with -v, where kafka-python logs its client configs), and the
generated local `.env` is owner-only from the moment it exists."""

from __future__ import annotations

import io
import logging
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from imgassets.core import redaction
from imgassets.core.settings import get_settings

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_verbose_kafka_client_logs_never_show_the_sasl_password() -> None:
    """`imgassets -v dlq list` with SASL credentials against a bootstrap address where nothing listens: the
    admin client's DEBUG line with its configuration is printed, the password in it is not."""
    password = secrets.token_urlsafe(24)
    env = os.environ | {
        "IMGASSETS_ENV_FILE": "/dev/null",
        "IMGASSETS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "IMGASSETS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "IMGASSETS_KAFKA_SASL_USERNAME": "ingest-bot",
        "IMGASSETS_KAFKA_SASL_PASSWORD": password,
    }
    result = subprocess.run(
        [sys.executable, "-m", "imgassets.cli.main", "-v", "dlq", "--timeout", "2", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Error: cannot reach Kafka at 127.0.0.1:1" in result.stderr
    assert "DEBUG kafka.admin.client: Starting KafkaAdminClient with configuration" in result.stderr
    assert "'sasl_plain_username': 'ingest-bot', 'sasl_plain_password': '***'" in result.stderr
    assert password not in result.stderr and password not in result.stdout


def test_without_verbose_an_unreachable_broker_is_one_clear_line() -> None:
    env = os.environ | {"IMGASSETS_ENV_FILE": "/dev/null", "IMGASSETS_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    result = subprocess.run(
        [sys.executable, "-m", "imgassets.cli.main", "dlq", "--timeout", "1", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: cannot reach Kafka at 127.0.0.1:1: KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:1']"
    ]


def test_filter_redacts_every_secret_of_the_settings(fresh_settings: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Known secret values are redacted wherever they appear: in the message, in %-args (the formatted message
    is what is checked), in exception text; and `password` assignments are redacted even when unknown."""
    values = {
        "IMGASSETS_KAFKA_SASL_PASSWORD": secrets.token_hex(12),
        "IMGASSETS_S3_SECRET_ACCESS_KEY": secrets.token_hex(12),
        "IMGASSETS_S3_ACCESS_KEY_ID": f"AKID{secrets.token_hex(6)}",
        "IMGASSETS_ALERT_WEBHOOK_URL": f"https://hooks.example.com/services/{secrets.token_hex(12)}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMGASSETS_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("IMGASSETS_KAFKA_SASL_USERNAME", "bot")
    get_settings.cache_clear()

    stream = io.StringIO()
    logger = logging.getLogger(f"imgassets.test.{secrets.token_hex(4)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler(stream))
    redaction.install_redaction(logger)
    redaction.install_redaction(logger)  # once is enough; twice does not stack filters
    assert len(logger.handlers[0].filters) == 1

    password, secret_key, key_id, webhook = values.values()
    logger.debug("config: %s", {"sasl_plain_password": password, "user": "bot"})
    logger.info("signing with %s / %s", key_id, secret_key)
    logger.warning(f"posting to {webhook} failed")
    logger.debug("connect user=bot password=%s", "not-a-known-secret")
    logger.debug("{'ssl_password': 'unknown-too', 'secret_access_key': \"also-unknown\"}")
    try:
        raise RuntimeError(f"auth failed for {password}")
    except RuntimeError:
        logger.exception("boom %d", 1)
    output = stream.getvalue()

    for value in [*values.values(), "not-a-known-secret", "unknown-too", "also-unknown"]:
        assert value not in output
    assert "config: {'sasl_plain_password': '***', 'user': 'bot'}" in output
    assert "signing with *** / ***" in output
    assert "posting to *** failed" in output
    assert "connect user=bot password=***" in output
    assert "{'ssl_password': '***', 'secret_access_key': \"***\"}" in output
    assert "boom 1" in output and "RuntimeError: auth failed for ***" in output


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "sent 3, already ingested 1, failed 0; password policy: strong; 'sasl_plain_password': None"
    assert redaction.redact(text, []) == text


def test_generated_env_file_is_owner_only_from_creation(
    tmp_path: Path, fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under umask 022 the `.env` is created 0o600 (never 0o644, not even before a chmod), and the keys land in it."""
    import imgassets.stack as stack

    env_path = tmp_path / ".env"
    monkeypatch.setenv("IMGASSETS_ENV_FILE", str(env_path))
    monkeypatch.delenv("IMGASSETS_S3_ACCESS_KEY_ID")
    monkeypatch.delenv("IMGASSETS_S3_SECRET_ACCESS_KEY")
    get_settings.cache_clear()
    modes_at_open: list[int] = []
    real_open = os.open

    def spying_open(path: StrOrBytesPath, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        fd = real_open(path, flags, mode, *args, **kwargs)
        if Path(os.fsdecode(path)) == env_path:
            modes_at_open.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    monkeypatch.setattr(stack.os, "open", spying_open)
    old_umask = os.umask(0o022)
    try:
        settings = stack.ensure_local_env()
    finally:
        os.umask(old_umask)

    assert modes_at_open == [0o600]  # the file came into existence owner-only
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    content = env_path.read_text()
    access_key, secret_key = settings.require_s3_credentials()
    assert f"IMGASSETS_S3_ACCESS_KEY_ID={access_key}\n" in content
    assert f"IMGASSETS_S3_SECRET_ACCESS_KEY={secret_key}\n" in content


def test_existing_env_file_is_narrowed_before_secrets_are_appended(
    tmp_path: Path, fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import imgassets.stack as stack

    env_path = tmp_path / ".env"
    env_path.write_text("IMGASSETS_S3_BUCKET=mine\n")
    env_path.chmod(0o644)
    monkeypatch.setenv("IMGASSETS_ENV_FILE", str(env_path))
    monkeypatch.delenv("IMGASSETS_S3_ACCESS_KEY_ID")
    monkeypatch.delenv("IMGASSETS_S3_SECRET_ACCESS_KEY")
    monkeypatch.delenv("IMGASSETS_S3_BUCKET", raising=False)
    get_settings.cache_clear()
    sizes_at_chmod: list[tuple[int, int]] = []
    real_fchmod = os.fchmod

    def spying_fchmod(fd: int, mode: int) -> None:
        sizes_at_chmod.append((os.fstat(fd).st_size, mode))
        real_fchmod(fd, mode)

    monkeypatch.setattr(stack.os, "fchmod", spying_fchmod)
    settings = stack.ensure_local_env()

    assert sizes_at_chmod == [(len("IMGASSETS_S3_BUCKET=mine\n"), 0o600)]  # narrowed before anything was written
    assert stat.S_IMODE(env_path.stat().st_mode) == 0o600
    assert env_path.read_text().startswith("IMGASSETS_S3_BUCKET=mine\n")  # appended, not replaced
    assert settings.s3_bucket == "mine" and settings.s3_access_key_id is not None


@pytest.mark.parametrize("existing_install", [False, True])
def test_first_stack_up_starts_the_partitions_on_the_install_day(
    tmp_path: Path, fresh_settings: None, monkeypatch: pytest.MonkeyPatch, existing_install: bool
) -> None:
    """A new install's partitions start today (Dagster's UI then shows the hours since the install, not
    thousands of missing ones); a stack that already holds Dagster state keeps the start it was made with; the
    start written once is what every later process reads, and a user's own setting is never overwritten."""
    from datetime import UTC, datetime

    import imgassets.stack as stack
    from imgassets.core.settings import Settings

    env_path, home = tmp_path / ".env", tmp_path / "home"
    if existing_install:
        (home / "dagster").mkdir(parents=True)
    monkeypatch.setenv("IMGASSETS_ENV_FILE", str(env_path))
    monkeypatch.setenv("IMGASSETS_HOME", str(home))
    monkeypatch.delenv("IMGASSETS_PARTITIONS_START")
    get_settings.cache_clear()

    settings = stack.ensure_local_env()

    today = datetime.now(UTC).strftime("%Y-%m-%d-00:00")
    expected = Settings.model_fields["partitions_start"].default if existing_install else today
    assert settings.partitions_start == expected
    assert f"IMGASSETS_PARTITIONS_START={expected}\n" in env_path.read_text()
    assert stack.Stack(settings).env["IMGASSETS_PARTITIONS_START"] == expected
    get_settings.cache_clear()
    written = env_path.read_text()
    assert stack.ensure_local_env().partitions_start == expected and env_path.read_text() == written

    monkeypatch.setenv("IMGASSETS_PARTITIONS_START", "2026-03-01-00:00")
    get_settings.cache_clear()
    assert stack.ensure_local_env().partitions_start == "2026-03-01-00:00" and env_path.read_text() == written
