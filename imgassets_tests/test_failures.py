"""Both sides of the line between an item's failure and the infrastructure's (`imgassets.core.failures`)."""

import errno
import struct

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, ReadTimeoutError
from hypothesis import given
from hypothesis import strategies as st
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from obstore.exceptions import GenericError, InvalidPathError, PermissionDeniedError, UnauthenticatedError

from imgassets.core import alerts
from imgassets.core.failures import S3_INFRASTRUCTURE_CODES, InfrastructureError, describe, is_infrastructure
from imgassets.core.storage import ObjectMissing, ObjectRefused, s3_failure
from imgassets_tests import helpers


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:1"),
        NoCredentialsError(),
        _client_error("AccessDenied", 403),
        _client_error("InvalidAccessKeyId", 403),
        _client_error("SignatureDoesNotMatch", 403),
        _client_error("NoSuchBucket", 404),
        _client_error("InternalError", 500),
        _client_error("SlowDown", 503),
        KafkaConnectionError(),
        KafkaTimeoutError(),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        ConnectionResetError(),
        InfrastructureError("topic missing"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_infrastructure_errors_fail_the_run(exc: BaseException) -> None:
    assert is_infrastructure(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("NoSuchKey", 404),
        _client_error("InvalidRange", 416),
        ValueError("bad"),
        struct.error("unpack requires a buffer of 4 bytes"),
        TypeError("'NoneType' object is not subscriptable"),
        KeyError(274),
        ZeroDivisionError("division by zero"),
        RecursionError("maximum recursion depth exceeded"),
        MemoryError(),
        OSError(errno.EINVAL, "Invalid argument"),
        OSError("image file is truncated"),
        SyntaxError("not a TIFF file"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_everything_else_is_the_items_own_failure(exc: BaseException) -> None:
    assert not is_infrastructure(exc)


def _obstore_text(status: str, code: str) -> str:
    """obstore's message for a refused request, as it reads (with its debug dump, which s3_failure drops)."""
    return (
        f"Error performing GET http://127.0.0.1:1/b/images/k.jpg in 1.2ms - Server returned non-2xx status code: "
        f'{status}: <?xml version="1.0"?><Error><Code>{code}</Code><Message>m</Message></Error>'
        '\n\nDebug source:\nGeneric {\n    store: "S3",\n}'
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            GenericError(
                "Generic S3 error: Error performing GET ... after 4 retries - HTTP error: error sending request"
            ),
            InfrastructureError,
        ),
        (GenericError(_obstore_text("500 Internal Server Error", "InternalError")), InfrastructureError),
        (GenericError(_obstore_text("503 Service Unavailable", "SlowDown")), InfrastructureError),
        (GenericError(_obstore_text("400 Bad Request", "ExpiredToken")), InfrastructureError),
        (GenericError(_obstore_text("429 Too Many Requests", "TooManyRequests")), InfrastructureError),
        (PermissionDeniedError(_obstore_text("403 Forbidden", "AccessDenied")), InfrastructureError),
        (UnauthenticatedError(_obstore_text("401 Unauthorized", "Unauthorized")), InfrastructureError),
        (FileNotFoundError(_obstore_text("404 Not Found", "NoSuchBucket")), InfrastructureError),
        (FileNotFoundError(_obstore_text("404 Not Found", "NoSuchKey")), ObjectMissing),
        (GenericError(_obstore_text("400 Bad Request", "InvalidArgument")), ObjectRefused),
        (GenericError(_obstore_text("416 Range Not Satisfiable", "InvalidRange")), ObjectRefused),
        (InvalidPathError("Encountered illegal character sequence"), ValueError),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else type(v).__name__,
)
def test_s3_errors_are_the_stores_or_the_objects(exc: Exception, kind: type[Exception]) -> None:
    failure = s3_failure("GET", "s3://b/images/k.jpg", exc)
    assert type(failure) is kind and "s3://b/images/k.jpg" in str(failure)
    assert is_infrastructure(failure) == (kind is InfrastructureError)
    assert "Debug source" not in str(failure)


def test_describe_names_type_and_text_on_one_line() -> None:
    assert describe(ValueError("a\n  b")) == "ValueError: a b"
    assert describe(KeyError(274)) == "KeyError: 274"
    assert describe(MemoryError()) == "MemoryError"
    assert len(describe(ValueError("x" * 5000))) == 2000


def test_alert_is_a_slack_compatible_post_and_a_dead_webhook_does_not_raise() -> None:
    webhook = helpers.WebhookReceiver()
    try:
        assert alerts.post(webhook.url, "run r1 failed")
    finally:
        webhook.close()
    assert webhook.received == [{"text": "[imgassets] run r1 failed"}]
    assert alerts.post(webhook.url, "nobody listens", timeout=2) is False


@given(
    status=st.integers(min_value=400, max_value=599),
    code=st.text(alphabet=st.characters(blacklist_characters="<>&", blacklist_categories=["Cs"]), min_size=1),
)
def test_any_refused_request_is_classified_by_status_and_code(status: int, code: str) -> None:
    failure = s3_failure("PUT", "s3://b/k", GenericError(_obstore_text(f"{status} Reason", code)))
    stores = status >= 500 or status in (408, 429) or code in S3_INFRASTRUCTURE_CODES
    assert is_infrastructure(failure) == stores
    assert isinstance(failure, InfrastructureError if stores else ObjectRefused)
