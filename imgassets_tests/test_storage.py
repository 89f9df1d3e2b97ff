"""The S3 layer on the real S3 server: object bodies through obstore, listing through boto3, and the line between
an object's own failure and S3's (`imgassets.core.failures`)."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from imgassets.core.failures import InfrastructureError, is_infrastructure
from imgassets.core.storage import ObjectMissing, ObjectStore, ObjectTooLarge

pytestmark = pytest.mark.integration


def test_bytes_type_and_metadata_round_trip(store: ObjectStore) -> None:
    data = bytes(range(256)) * 400
    store.put_bytes("images/a/one.jpg", data, "image/jpeg", {"uploaded-at": "2026-12-05T04:00:00+00:00"})
    stored = store.get("images/a/one.jpg")
    assert stored.data == data
    assert stored.content_type == "image/jpeg"
    assert stored.metadata == {"uploaded-at": "2026-12-05T04:00:00+00:00"}
    # Listing (boto3) sees what obstore wrote, by plain string prefix as S3 defines it.
    assert list(store.list_keys("images/a/o")) == ["images/a/one.jpg"]
    assert [(key, size) for key, _, size in store.list_objects("images/")] == [("images/a/one.jpg", len(data))]
    store.delete("images/a/one.jpg")
    assert store.get_optional("images/a/one.jpg") is None


def test_a_missing_object_is_the_items_failure(store: ObjectStore) -> None:
    with pytest.raises(ObjectMissing) as missing:
        store.get("images/nothing/here.jpg")
    assert f"s3://{store.bucket}/images/nothing/here.jpg" in str(missing.value)
    assert not is_infrastructure(missing.value)


def test_an_object_over_the_limit_is_refused_before_its_body_is_read(store: ObjectStore) -> None:
    store.put_bytes("images/a/big.jpg", b"x" * 5000, "image/jpeg")
    with pytest.raises(ObjectTooLarge, match="5000 bytes > limit 4999"):
        store.get("images/a/big.jpg", max_bytes=4999)
    assert len(store.get("images/a/big.jpg", max_bytes=5000).data) == 5000


def test_an_unreachable_server_fails_clearly_after_its_retries(deployment) -> None:
    store = ObjectStore.from_settings(
        deployment.settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9", "s3_max_attempts": 2})
    )
    started = time.monotonic()
    for attempt in (lambda: store.get("images/a/b.jpg"), lambda: store.put_bytes("a/b.json", b"{}", "x/y")):
        with pytest.raises(InfrastructureError, match=r"S3 (GET|PUT) s3://.*/a/b\.(jpg|json) failed: .*error sending"):
            attempt()
    print(f"two requests against a closed port failed in {time.monotonic() - started:.2f} s")
    secret = deployment.settings.require_s3_credentials()[1]
    assert secret not in repr(store.access)


def test_wrong_credentials_are_infrastructure(deployment) -> None:
    store = ObjectStore.from_settings(
        deployment.settings.model_copy(update={"s3_access_key_id": SecretStr("not-a-key"), "s3_max_attempts": 1})
    )
    with pytest.raises(InfrastructureError, match="S3 GET .* failed: .*403"):
        store.get("images/a/b.jpg")


def test_listing_clients_share_one_session_but_not_its_credentials(store: ObjectStore, deployment) -> None:
    """Every store's listing client comes from the process's one boto3 session (cheap after the first): clients
    made from many threads at once all work, and each keeps its own key pair."""
    store.put_bytes("images/s/one.jpg", b"x", "image/jpeg")

    def listing(_: int) -> list[str]:
        return list(ObjectStore.from_settings(deployment.settings).list_keys("images/s/"))

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(listing, range(16))) == [["images/s/one.jpg"]] * 16
    wrong = ObjectStore.from_settings(
        deployment.settings.model_copy(update={"s3_access_key_id": SecretStr("not-a-key"), "s3_max_attempts": 1})
    )
    with pytest.raises(ClientError, match="403|InvalidAccessKeyId|AccessDenied"):
        list(wrong.list_keys("images/s/"))
    assert listing(0) == ["images/s/one.jpg"]
