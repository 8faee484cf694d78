"""The S3 adapter turns "this object can never be read" into ObjectUnreadable, so the runtime
rejects it instead of retrying: an archived object on moto, SSE-C through botocore's Stubber
(moto does not enforce SSE-C; the Stubber checks the request against the S3 service model)."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from imgpipe.adapters import S3Storage
from imgpipe.errors import Reason
from imgpipe.ports import ObjectUnreadable


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="uploads")
        yield client


def test_an_archived_object_reports_its_class_and_its_get_is_unreadable(s3) -> None:
    s3.put_object(Bucket="uploads", Key="old.jpg", Body=b"img", StorageClass="GLACIER")
    storage = S3Storage(s3)
    info = storage.head("uploads", "old.jpg")
    assert info is not None and info.storage_class == "GLACIER" and info.archived
    with pytest.raises(ObjectUnreadable) as exc:
        storage.get("uploads", "old.jpg")
    assert exc.value.reason == Reason.ARCHIVED


def test_a_standard_object_is_not_archived(s3) -> None:
    s3.put_object(Bucket="uploads", Key="new.jpg", Body=b"img")
    info = S3Storage(s3).head("uploads", "new.jpg")
    assert info is not None and not info.archived


def test_sse_c_head_and_get_answer_400_and_become_unreadable() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    storage = S3Storage(client)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", "400", "Bad Request", 400, expected_params={"Bucket": "b", "Key": "k"})
        stub.add_client_error(
            "get_object",
            "InvalidRequest",
            "The object was stored using a form of Server Side Encryption. "
            "The correct parameters must be provided to retrieve the object.",
            400,
            expected_params={"Bucket": "b", "Key": "k"},
        )
        for call in (lambda: storage.head("b", "k"), lambda: storage.get("b", "k")):
            with pytest.raises(ObjectUnreadable) as exc:
                call()
            assert exc.value.reason == Reason.CUSTOMER_ENCRYPTED
        stub.assert_no_pending_responses()


def test_one_get_tells_what_a_head_would_and_leaves_the_body_unread(s3) -> None:
    from imgpipe.ports import ObjectChanged

    etag = s3.put_object(Bucket="uploads", Key="a.jpg", Body=b"image", ContentType="image/jpeg", Metadata={"m": "1"})[
        "ETag"
    ].strip('"')
    storage = S3Storage(s3)
    opened = storage.open("uploads", "a.jpg", etag=etag)
    assert opened is not None
    with opened:
        assert opened.info == storage.head("uploads", "a.jpg")
        assert opened.read() == b"image"
    assert storage.open("uploads", "missing.jpg", etag=etag) is None
    with pytest.raises(ObjectChanged):
        storage.open("uploads", "a.jpg", etag="0" * 32)


def test_an_archived_objects_get_says_which_archive_when_s3_names_it(s3) -> None:
    s3.put_object(Bucket="uploads", Key="old.jpg", Body=b"img", StorageClass="DEEP_ARCHIVE")
    with pytest.raises(ObjectUnreadable) as exc:
        S3Storage(s3).open("uploads", "old.jpg")
    assert exc.value.reason == Reason.ARCHIVED and "restore it" in exc.value.why
    # S3 names the class (or Intelligent-Tiering's tier) in the error; moto does not
    client = boto3.client("s3", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_object",
            "InvalidObjectState",
            "The operation is not valid for the object's storage class",
            403,
            service_error_meta={"StorageClass": "INTELLIGENT_TIERING", "AccessTier": "DEEP_ARCHIVE_ACCESS"},
        )
        with pytest.raises(ObjectUnreadable) as exc:
            S3Storage(client).open("b", "k")
    assert "the DEEP_ARCHIVE_ACCESS archive" in exc.value.why
