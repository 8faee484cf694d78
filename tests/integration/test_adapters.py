"""The boto3 adapters, once, under moto: S3 storage and the EventBridge publisher."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.adapters import EventBridgePublisher, S3Storage
from imgpipe.errors import TransientError
from imgpipe.events import ImageRejected, Upload
from imgpipe.outputs import VISIBILITY_TAG, held_tags
from imgpipe.ports import ObjectChanged, ObjectMissing


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bkt")
        yield client


def test_head_get_put_round_trip(s3: Any) -> None:
    storage = S3Storage(s3)
    storage.put(
        "bkt", "k/ü +.webp", b"data", content_type="image/webp", metadata={"source-etag": "e"}, cache_control="c"
    )
    info = storage.head("bkt", "k/ü +.webp")
    assert info is not None
    assert (info.size, info.content_type, info.metadata["source-etag"]) == (4, "image/webp", "e")
    assert storage.get("bkt", "k/ü +.webp", etag=info.etag) == b"data"


def test_missing_and_changed_objects_are_told_apart(s3: Any) -> None:
    storage = S3Storage(s3)
    assert storage.head("bkt", "nope") is None
    with pytest.raises(ObjectMissing):
        storage.get("bkt", "nope")
    s3.put_object(Bucket="bkt", Key="k", Body=b"v2")
    with pytest.raises(ObjectChanged):
        storage.get("bkt", "k", etag="0123456789abcdef0123456789abcdef")


def test_release_removes_the_held_mark_and_keeps_the_visibility(s3: Any) -> None:
    storage = S3Storage(s3)
    tags = {VISIBILITY_TAG: "responsive:resize", **held_tags()}
    storage.put("bkt", "resize/a.jpg/640w.jpg", b"x", content_type="image/jpeg", metadata={}, tags=tags)
    storage.release("bkt", ["resize/a.jpg/640w.jpg", "resize/gone.jpg/640w.jpg"])  # a missing one is skipped
    after = s3.get_object_tagging(Bucket="bkt", Key="resize/a.jpg/640w.jpg")["TagSet"]
    # the CDN serves it by this tag: deleting the object's tagging would have made it unservable
    assert after == [{"Key": VISIBILITY_TAG, "Value": "responsive:resize"}]
    storage.release("bkt", ["resize/a.jpg/640w.jpg"])  # idempotent
    assert s3.get_object_tagging(Bucket="bkt", Key="resize/a.jpg/640w.jpg")["TagSet"] == after


def test_publisher_puts_events_with_source_and_detail() -> None:
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="r", EventPattern=json.dumps({"source": [{"prefix": "imgpipe."}]}))
        events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn}])
        rejected = [ImageRejected(Upload("b", f"k{i}", "e"), "demo", "corrupt_image", "bad") for i in range(12)]
        EventBridgePublisher("default", events).publish("imgpipe.demo", rejected)
        bodies = []
        while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            bodies += [json.loads(m["Body"]) for m in msgs]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in msgs]
            )
    assert len(bodies) == 12  # more than one PutEvents batch of 10
    assert {b["source"] for b in bodies} == {"imgpipe.demo"}
    assert {b["detail"]["key"] for b in bodies} == {f"k{i}" for i in range(12)}


class _PartialFailure:
    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}, {"EventId": "1"}]}


def test_partial_put_events_failure_raises_for_retry() -> None:
    event = ImageRejected(Upload("b", "k", "e"), "demo", "corrupt_image", "bad")
    with pytest.raises(TransientError, match="ThrottlingException"):
        EventBridgePublisher("default", _PartialFailure()).publish("imgpipe.demo", [event, event])
