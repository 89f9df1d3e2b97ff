"""Secrets never reach a log: the values of the current secret settings, and anything that looks like a
password or secret assignment (kafka-python logs its client configs), are replaced by "***" in every record a
handler emits. The CLI installs it on the root logger's handlers."""

from __future__ import annotations

import logging
import re

from imgassets.core.settings import SettingsError, get_settings

REDACTED = "***"
#: `'sasl_plain_password': 'x'`, `"secret_access_key": "x"`, `password=x` (kafka-python logs its client configs).
_SECRET_PATTERNS = [
    re.compile(
        r"""(?P<head>['"]?\b\w*(?:password|passwd|secret\w*)['"]?\s*[:=]\s*)(?P<q>['"])(?P<value>.*?)(?P=q)""", re.I
    ),
    re.compile(r"""(?P<head>\b\w*(?:password|passwd|secret\w*)\s*=\s*)(?P<q>)(?P<value>[^\s,;&'"()\[\]{}]+)""", re.I),
]


def known_secrets() -> list[str]:
    """The secret values of the current settings (SASL password, S3 keys, alert webhook URL, the viewer's
    password hash and session secret, the query token)."""
    try:
        settings = get_settings()
    except SettingsError:
        return []
    values = [
        settings.kafka_sasl_password,
        settings.s3_secret_access_key,
        settings.s3_access_key_id,
        settings.alert_webhook_url,
        settings.viewer_password_hash,
        settings.viewer_session_secret,
        settings.query_token,
    ]
    # Longest first, so a secret containing another is replaced whole.
    return sorted(
        {v.get_secret_value() for v in values if v is not None and v.get_secret_value()}, key=len, reverse=True
    )


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with every known secret value and every `password`/`secret` assignment replaced by '***'."""
    for secret in known_secrets() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: f"{m['head']}{m['q']}{REDACTED}{m['q']}" if m["value"] != REDACTED else m[0], text)
    return text


class RedactingFilter(logging.Filter):
    """On a handler: redacts the formatted message (msg % args), exception text and stack of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = known_secrets()
        try:
            message = record.getMessage()
        except Exception:
            return True
        redacted = redact(message, secrets)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Puts a `RedactingFilter` on every handler of `logger` (the root logger by default), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
