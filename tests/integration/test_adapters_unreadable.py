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
