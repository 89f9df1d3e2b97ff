"""S3 access for the pipeline: a thin, retrying wrapper used by the CLI, the assets and the tests.

Object bodies (every image's read, thumbnail and record) go through obstore, a native client: a request costs
about 0.15–0.3 ms of CPU there against 1.0–2.1 ms through boto3 (measured on SeaweedFS), and the run workers
share their cores with the forward pass. Listing stays on boto3: S3 lists by plain string prefix, obstore by
path segment. Bucket creation, which obstore does not do, too.

Both retry with exponential backoff and bounded attempts, so a short S3 outage is ridden out and a long one
fails the step clearly (an `InfrastructureError` naming the request) instead of skipping work.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, cached_property
from typing import Any, TypeVar

import boto3
import botocore.session
import obstore
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from obstore.exceptions import BaseError, InvalidPathError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store
from pydantic import BaseModel

from imgassets.core import failures
from imgassets.core.records import Record
from imgassets.core.settings import Settings

ModelT = TypeVar("ModelT", bound=BaseModel)
_MISSING = {"404", "NoSuchKey", "NotFound"}


#: Clients are made one at a time from the process's boto3 session (a session is not safe to share while it makes
#: them; the clients are).
_client_lock = threading.Lock()


@cache
def _boto3_session() -> boto3.session.Session:
    """The process's boto3 session. Its loader keeps the S3 service model and endpoint rules it parsed for the first
    client, so a client after that costs 4 ms of CPU instead of 65-190 ms with a session of its own (every run
    makes one, to list; the stack's run workers fork from a process that made the first, `stack/warm_runs.py`)."""
    session = botocore.session.get_session()
    # Timestamps stay the strings S3 sent: nothing here reads them, and dateutil parsing every listed key's
    # LastModified was two thirds of a listing's CPU (1,000 keys: 0.053 s, 0.018 s without it).
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=str)
    return boto3.session.Session(botocore_session=session)


#: Object attributes that are HTTP headers of their own; every other attribute is user metadata (x-amz-meta-*).
_HEADER_ATTRIBUTES = frozenset(
    {"Content-Type", "Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control", "Storage-Class"}
)


@dataclass(frozen=True, repr=False)
class S3Access:
    """Where the bucket is and how to reach it; `repr` leaves the key pair out."""

    endpoint_url: str | None
    region: str
    access_key_id: str
    secret_access_key: str
    addressing_style: str = "path"
    max_attempts: int = 5
    pool_size: int = 16

    def __repr__(self) -> str:
        return f"S3Access(endpoint_url={self.endpoint_url!r}, region={self.region!r})"

    def client(self) -> BaseClient:
        """boto3, for listing and the bucket itself."""
        config = Config(
            region_name=self.region,
            retries={"max_attempts": self.max_attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            max_pool_connections=self.pool_size,
            s3={"addressing_style": self.addressing_style},
            # CRC trailers only where S3 requires them: images are verified by their sha256 anyway, the
            # per-request checksum cost shows on a CPU-bound box, and several S3-compatible servers reject them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        with _client_lock:
            return _boto3_session().client(
                "s3",
                endpoint_url=self.endpoint_url,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                config=config,
            )

    def native(self, bucket: str) -> S3Store:
        """obstore, for object bodies. Backoff as botocore's standard mode: 0.5 s doubling, at most 20 s."""
        return S3Store(
            bucket,
            endpoint=self.endpoint_url,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            virtual_hosted_style_request=self.addressing_style == "virtual",
            client_options={
                "allow_http": True,
                "connect_timeout": "5s",
                "timeout": "60s",
                "pool_max_idle_per_host": str(self.pool_size),
            },
            retry_config={
                "max_retries": self.max_attempts - 1,
                "backoff": {
                    "init_backoff": timedelta(milliseconds=500),
                    "max_backoff": timedelta(seconds=20),
                    "base": 2,
                },
                "retry_timeout": timedelta(seconds=120),
            },
        )


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    metadata: dict[str, str]
    content_type: str | None


class ObjectTooLarge(ValueError):
    """An object larger than the caller allows; raised before its body is read."""


class ObjectMissing(LookupError):
    """No object at the key (the item's own failure, unlike a missing bucket)."""


def _is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


_STATUS = re.compile(r"status code: (\d{3})")
_CODE = re.compile(r"<Code>([^<]+)</Code>")


class ObjectRefused(ValueError):
    """S3 refused this request for this object (a 4xx other than a missing object, credentials or throttling)."""


def s3_failure(method: str, url: str, exc: Exception) -> Exception:
    """obstore's error as the pipeline's (`imgassets.core.failures`): the store, its credentials or the network failing
    is infrastructure; a missing object, a key S3 cannot take or an object S3 refuses is that object's own failure.
    The text is obstore's first paragraph (its debug dump leaves out nothing more useful, and holds no secrets)."""
    text = str(exc).split("\n\nDebug source:", 1)[0].strip()
    code = match[1] if (match := _CODE.search(text)) else None
    if code in failures.S3_INFRASTRUCTURE_CODES or isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        return failures.InfrastructureError(f"S3 {method} {url} failed: {text}")
    if isinstance(exc, FileNotFoundError):
        return ObjectMissing(f"no object at {url}")
    if isinstance(exc, InvalidPathError):
        return ValueError(f"not a valid S3 key: {url}: {text}")
    status = int(match[1]) if (match := _STATUS.search(text)) else None
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return ObjectRefused(f"S3 {method} {url} refused: {text}")
    return failures.InfrastructureError(f"S3 {method} {url} failed: {text}")


class ObjectStore:
    """One bucket. Keys passed in come from `imgassets.core.layout`, never straight from user input."""

    def __init__(self, access: S3Access, bucket: str) -> None:
        self.access = access
        self.bucket = bucket
        self.native = access.native(bucket)

    @cached_property
    def client(self) -> BaseClient:
        return self.access.client()

    @classmethod
    def connect(
        cls,
        *,
        endpoint_url: str | None,
        region: str,
        bucket: str,
        addressing_style: str,
        max_attempts: int,
        io_threads: int,
        access_key_id: str,
        secret_access_key: str,
    ) -> ObjectStore:
        """The one way to open the bucket, from the S3 settings (`from_settings`) or the Dagster resource's fields
        (`S3Resource.store`): twice as many connections as I/O threads, for a request's retry beside a new one."""
        access = S3Access(
            endpoint_url, region, access_key_id, secret_access_key, addressing_style, max_attempts, io_threads * 2
        )
        return cls(access, bucket)

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        access_key_id, secret_access_key = settings.require_s3_credentials()
        return cls.connect(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            bucket=settings.s3_bucket,
            addressing_style=settings.s3_addressing_style,
            max_attempts=settings.s3_max_attempts,
            io_threads=settings.s3_io_threads,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
        )

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    @contextlib.contextmanager
    def _request(self, method: str, key: str) -> Iterator[None]:
        """An obstore request, its errors as the pipeline's (`s3_failure`)."""
        try:
            yield
        except (BaseError, OSError) as exc:
            raise s3_failure(method, self.url(key), exc) from exc

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not _is_missing(error):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        attributes = {**(metadata or {}), "Content-Type": content_type}
        with self._request("PUT", key):
            obstore.put(self.native, key, data, attributes=attributes, use_multipart=False)

    def put_record(self, key: str, record: Record) -> None:
        self.put_bytes(key, record.to_json(), "application/json")

    def get(self, key: str, max_bytes: int | None = None) -> StoredObject:
        """The object (`ObjectMissing` if there is none); with `max_bytes`, its length is checked before the body
        is read (`ObjectTooLarge`)."""
        with self._request("GET", key):
            result = obstore.get(self.native, key)
            size = result.meta["size"]
            if max_bytes is not None and size > max_bytes:
                raise ObjectTooLarge(f"file too large: {size} bytes > limit {max_bytes}")
            data = bytes(result.bytes())
        attributes = result.attributes
        return StoredObject(
            data=data,
            metadata={name: value for name, value in attributes.items() if name not in _HEADER_ATTRIBUTES},
            content_type=attributes.get("Content-Type"),
        )

    def get_optional(self, key: str) -> StoredObject | None:
        """The object, or None when it does not exist (one request, not HEAD then GET)."""
        try:
            return self.get(key)
        except ObjectMissing:
            return None

    def get_record(self, key: str, model: type[ModelT]) -> ModelT:
        return model.model_validate_json(self.get(key).data)

    def get_records(self, prefix: str, model: type[ModelT], threads: int = 8) -> list[ModelT]:
        """Every record under `prefix`, read in parallel."""
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(lambda key: self.get_record(key, model), self.list_keys(prefix)))

    def read_each(
        self, keys: list[str], model: type[ModelT], threads: int = 8
    ) -> tuple[dict[str, ModelT], dict[str, str]]:
        """The records at `keys` (key → record, in that order), read in parallel, each on its own: one that cannot
        be read or parsed costs only itself (returned as key → reason); infrastructure errors still raise
        (`failures.item_reason`)."""

        def read(key: str) -> ModelT | str:
            try:
                return self.get_record(key, model)
            except Exception as exc:
                return failures.item_reason(exc)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            outcomes = list(pool.map(read, keys))
        records = {key: outcome for key, outcome in zip(keys, outcomes, strict=True) if not isinstance(outcome, str)}
        unreadable = {key: outcome for key, outcome in zip(keys, outcomes, strict=True) if isinstance(outcome, str)}
        return records, unreadable

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key).data)

    def delete(self, key: str) -> None:
        with self._request("DELETE", key):
            obstore.delete(self.native, key)

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, or None when it does not exist."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _is_missing(error):
                return None
            raise

    def list_keys(self, prefix: str) -> Iterator[str]:
        for key, _, _ in self.list_objects(prefix):
            yield key

    def list_objects(self, prefix: str) -> Iterator[tuple[str, str, int]]:
        """Key, ETag and size of every object under `prefix`."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"], item.get("ETag", ""), int(item.get("Size", 0))
