"""DynamoDB faults (what the chaos test injects into notify's catalog calls) reach real boto3
clients as DynamoDB sends them, and botocore retries them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from imgpipe.adapters import client
from imgpipe.catalog import DynamoCatalog, RoundRef
from imgpipe.catalog.schema import create_table
from imgpipe.events import ImageRejected, Upload
from imgpipe_tools.testing import faults

TABLE = "faults-catalog"
UP = Upload("uploads", "photos/cat.jpg", "0123456789abcdef0123456789abcdef")
NOW = datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr("botocore.endpoint.time.sleep", lambda _s: None)
    client.cache_clear()
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), TABLE)
        yield
    client.cache_clear()


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [("throttle", "ProvisionedThroughputExceededException", 400), ("internal", "InternalServerError", 500)],
)
@pytest.mark.parametrize("operation", ["update_item", "get_item", "query"])
def test_dynamodb_faults_are_retried_by_botocore_then_surface(
    table: None, kind: str, code: str, status: int, operation: str
) -> None:
    catalog = DynamoCatalog(TABLE)
    rejection = ImageRejected(UP, "resize", "corrupt_image", "broken")
    calls = {
        "update_item": lambda: catalog.record_rejection(rejection, expected=["resize"], now=NOW),
        "get_item": lambda: catalog.load(RoundRef.of(UP)),
        "query": lambda: catalog.latest(UP.bucket, UP.key),
    }
    with faults.inject(f"dynamodb.{operation}:1:{kind}") as plan, pytest.raises(ClientError) as info:
        calls[operation]()
    assert info.value.response["Error"]["Code"] == code
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert plan.injected[(f"dynamodb.{operation}", kind)] == 5  # botocore's 5 attempts, all failed


def test_a_write_that_failed_was_not_applied_and_30_percent_faults_are_absorbed(table: None) -> None:
    catalog = DynamoCatalog(TABLE)
    with faults.inject("dynamodb.update_item:1", seed=3), pytest.raises(ClientError):
        catalog.record_rejection(ImageRejected(UP, "resize", "corrupt_image", "x"), expected=["resize"], now=NOW)
    assert catalog.load(RoundRef.of(UP)) is None
    with faults.inject("dynamodb.*:0.3", seed=3) as plan:
        for i in range(20):
            up = Upload(UP.bucket, f"photos/{i}.jpg", UP.etag)
            catalog.record_rejection(ImageRejected(up, "resize", "corrupt_image", "x"), expected=["resize"], now=NOW)
            assert catalog.load(RoundRef.of(up)) is not None
    assert plan.total > 0
