"""The line between an item's failure and the infrastructure's: the one place that names which errors may fail
a sensor tick or a run.

Everything raised while handling one Kafka message or one image is that item's failure (a dead letter or a
rejection record) unless `is_infrastructure` says otherwise: S3 or Kafka unreachable or timing out, S3
credentials or bucket refused, the local disk full. Those fail the tick or the run, which Dagster then retries;
skipping the item would lose it.
"""

from __future__ import annotations

import errno

from botocore.exceptions import BotoCoreError, ClientError
from kafka.errors import KafkaError

#: S3 error codes that say "the store or our access to it is broken", not "this object is bad".
S3_INFRASTRUCTURE_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "NoSuchBucket",
        "RequestTimeTooSkewed",
        "ServiceUnavailable",
        "SignatureDoesNotMatch",
        "SlowDown",
        "InternalError",
        "RequestTimeout",
    }
)
#: Local resources running out: the machine, not the image, is the problem.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE, errno.ENFILE})


class InfrastructureError(RuntimeError):
    """A failure of the services the pipeline depends on, named so that it fails the run on purpose."""


def is_infrastructure(exc: BaseException) -> bool:
    """True when `exc` is a failure of S3, Kafka or the local machine, rather than of the item being handled."""
    if isinstance(exc, InfrastructureError | KafkaError):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.get("Code") in S3_INFRASTRUCTURE_CODES or int(status) >= 500 or int(status) in (401, 403)
    if isinstance(exc, BotoCoreError):
        # Connection refused or reset, timeouts, missing credentials, endpoint errors: nothing object-specific.
        return True
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        return True
    return bool(isinstance(exc, ConnectionError | TimeoutError))


def item_reason(exc: Exception, *domain_errors: type[Exception]) -> str:
    """The recorded reason when handling one item raised: infrastructure errors propagate (they fail the tick or
    the run, which is retried); a domain error's own text is the reason; anything else is described."""
    if is_infrastructure(exc):
        raise exc
    return str(exc) if isinstance(exc, domain_errors) else describe(exc)


def describe(exc: BaseException) -> str:
    """The reason recorded for an item: the exception's type and text, on one bounded line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:2000] if text else type(exc).__name__
