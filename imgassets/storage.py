"""S3 access for the pipeline: a thin, retrying wrapper over boto3 used by the CLI, the assets and the tests.

Retries are botocore's 'standard' mode (bounded attempts, exponential backoff with jitter), so a short S3
outage is ridden out and a long one fails the step clearly instead of skipping work.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from pydantic import BaseModel

from imgassets import failures
from imgassets.records import Record
from imgassets.settings import Settings

ModelT = TypeVar("ModelT", bound=BaseModel)
_MISSING = {"404", "NoSuchKey", "NotFound"}


def make_s3_client(
    endpoint_url: str | None,
    region: str,
    access_key_id: str,
    secret_access_key: str,
    addressing_style: str = "path",
    max_attempts: int = 5,
    pool_size: int = 16,
) -> BaseClient:
    config = Config(
        region_name=region,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=pool_size,
        s3={"addressing_style": addressing_style},
        # CRC trailers only where S3 requires them: images are verified by their sha256 anyway, the
        # per-request checksum cost shows on a CPU-bound box, and several S3-compatible servers reject them.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    metadata: dict[str, str]
    content_type: str | None


class ObjectTooLarge(ValueError):
    """An object larger than the caller allows; raised before its body is read."""


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in _MISSING


class ObjectStore:
    """One bucket. Keys passed in come from `imgassets.layout`, never straight from user input."""

    def __init__(self, client: BaseClient, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        access_key_id, secret_access_key = settings.require_s3_credentials()
        client = make_s3_client(
            settings.s3_endpoint_url,
            settings.s3_region,
            access_key_id,
            secret_access_key,
            settings.s3_addressing_style,
            settings.s3_max_attempts,
            settings.s3_io_threads * 2,
        )
        return cls(client, settings.s3_bucket)

    def ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if not is_missing(error):
                raise
            self.client.create_bucket(Bucket=self.bucket)

    def put_bytes(self, key: str, data: bytes, content_type: str, metadata: dict[str, str] | None = None) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {}
        )

    def put_record(self, key: str, record: Record) -> None:
        self.put_bytes(key, record.to_json(), "application/json")

    def get(self, key: str, max_bytes: int | None = None) -> StoredObject:
        """The object; with `max_bytes`, its length is checked before the body is read (`ObjectTooLarge`)."""
        response = self.client.get_object(Bucket=self.bucket, Key=key)
        size = response.get("ContentLength")
        if max_bytes is not None and size is not None and size > max_bytes:
            response["Body"].close()
            raise ObjectTooLarge(f"file too large: {size} bytes > limit {max_bytes}")
        return StoredObject(
            data=response["Body"].read(),
            metadata=response.get("Metadata", {}),
            content_type=response.get("ContentType"),
        )

    def get_optional(self, key: str) -> StoredObject | None:
        """The object, or None when it does not exist (one request, not HEAD then GET)."""
        try:
            return self.get(key)
        except ClientError as error:
            if is_missing(error):
                return None
            raise

    def get_record(self, key: str, model: type[ModelT]) -> ModelT:
        return model.model_validate_json(self.get(key).data)

    def get_records(self, prefix: str, model: type[ModelT], threads: int = 8) -> list[ModelT]:
        """Every record under `prefix`, read in parallel."""
        return self.get_records_at(list(self.list_keys(prefix)), model, threads)

    def get_records_at(self, keys: list[str], model: type[ModelT], threads: int = 8) -> list[ModelT]:
        """The records at `keys`, in that order, read in parallel."""
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(lambda key: self.get_record(key, model), keys))

    def read_each(self, keys: list[str], model: type[ModelT], threads: int = 8) -> tuple[list[ModelT], dict[str, str]]:
        """The records at `keys`, read in parallel, each on its own: one that cannot be read or parsed costs only
        itself (returned as key → reason); infrastructure errors still raise (`failures.item_reason`)."""

        def read(key: str) -> ModelT | str:
            try:
                return self.get_record(key, model)
            except Exception as exc:
                return failures.item_reason(exc)

        with ThreadPoolExecutor(max_workers=threads) as pool:
            outcomes = list(pool.map(read, keys))
        records = [outcome for outcome in outcomes if not isinstance(outcome, str)]
        unreadable = {key: outcome for key, outcome in zip(keys, outcomes, strict=True) if isinstance(outcome, str)}
        return records, unreadable

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key).data)

    def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, or None when it does not exist."""
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if is_missing(error):
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
