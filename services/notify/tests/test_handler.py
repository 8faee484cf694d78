"""notify's Lambda handler under moto: DynamoDB catalog, SNS topic, S3 buckets.

Every test asserts the exact number of emails SNS accepted (moto's record of what was
published to the topic) and their content.
"""

from __future__ import annotations

import io
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends
from PIL import Image

from imgpipe import adapters
from imgpipe.catalog import DynamoCatalog
from imgpipe.catalog.schema import create_table as create_catalog_table
from imgpipe.config import Config, use_config
from imgpipe.events import Upload
from imgpipe.needs import Need
from tests.notify_support import (
    PRODUCERS,
    UPLOADS,
    VARIANTS,
    Sent,
    all_variant_keys,
    documented_filter_policies,
    producers_spec,
    rejected_event,
    upload_event,
    variant_events,
)

from ..handler import handler

REGION = "us-east-1"
TABLE = "imgpipe-catalog"


@dataclass
class LambdaContext:
    function_name: str = "imgpipe-notify"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:imgpipe-notify"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


@dataclass
class Stack:
    s3: Any
    sns: Any
    sqs: Any
    topic_arn: str
    config: Config

    def upload(self, key: str, body: bytes) -> Upload:
        etag = self.s3.put_object(Bucket=UPLOADS, Key=key, Body=body, ContentType="image/jpeg")["ETag"].strip('"')
        return Upload(UPLOADS, key, etag)

    def put_variants(self, upload: Upload) -> None:
        for p in PRODUCERS:
            for e in variant_events(upload, p):
                self._put_variant(e)

    def _put_variant(self, event: dict[str, Any]) -> None:
        """The variant an event announces, as the runtime writes it (notify checks its metadata)."""
        detail = event["detail"]
        for v in detail["variants"]:
            metadata = {"source-etag": detail["etag"], "processor": v["processor"], "source-key": detail["key"]}
            self.s3.put_object(Bucket=VARIANTS, Key=v["key"], Body=b"v" * v["bytes"], Metadata=metadata)

    def deliver(self, event: dict[str, Any]) -> dict[str, Any]:
        """Delivers an event as the stack's bus would, after the producer wrote what it announces."""
        if event.get("detail-type") == "Variants Created":
            self._put_variant(event)
        return self.deliver_only(event)

    def deliver_only(self, event: dict[str, Any]) -> dict[str, Any]:
        with use_config(self.config):
            return handler(event, LambdaContext())

    def sent(self, key: str | None = None) -> list[Sent]:
        """What SNS accepted for the topic (optionally only emails about ``key``)."""
        topic = sns_backends[DEFAULT_ACCOUNT_ID][REGION].topics[self.topic_arn]
        out = []
        for _id, message, subject, attributes, _group in topic.sent_notifications:
            if key is None or f"s3://{UPLOADS}/{key}\n" in message:
                out.append(Sent(subject or "", message, attributes or {}))
        return out


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        adapters.client.cache_clear()  # clients cached by earlier tests belong to another mock
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (UPLOADS, VARIANTS):
            s3.create_bucket(Bucket=bucket)
        create_catalog_table(boto3.client("dynamodb", region_name=REGION), TABLE)
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="imgpipe-notifications")["TopicArn"]
        config = Config(
            processor="notify",
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            settings={"link_expiry_s": 3600, "email_claim_timeout_s": 45, "email_claim_wait_s": 0.2},
            resources={
                Need.CATALOG: TABLE,
                Need.NOTIFICATION_TOPIC: topic_arn,
                Need.EXPECTED_PRODUCERS: producers_spec(),
            },
        )
        yield Stack(s3, sns, boto3.client("sqs", region_name=REGION), topic_arn, config)
        adapters.client.cache_clear()


def round_events(upload: Upload, shape: str = "moto") -> dict[str, list[dict[str, Any]]]:
    """The events of one upload, grouped by who sends them."""
    by_processor = {p: variant_events(upload, p) for p in PRODUCERS}
    return {"upload": [upload_event(upload, size=1234, shape=shape)], **by_processor}


def assert_ready_email(sent: list[Sent], upload: Upload) -> Sent:
    assert len(sent) == 1, [s.subject for s in sent]
    email = sent[0]
    assert email.subject == f"imgpipe: {upload.key} is ready (7 variants)"
    for vkey in all_variant_keys(upload):
        assert f"s3://{VARIANTS}/{vkey}\n" in email.body
    assert email.attributes == {"status": {"Type": "String", "Value": "completed"}, **_prefix(upload.key)}
    return email


def _prefix(key: str) -> dict[str, Any]:
    prefix = key.split("/")[0] if "/" in key else "/"
    return {"prefix": {"Type": "String", "Value": prefix}, "key": {"Type": "String", "Value": key}}


def _jpeg(size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (90, 140, 200)).save(out, "JPEG", quality=80)
    return out.getvalue()


def test_happy_path_email_catalog_and_working_links(stack: Stack) -> None:
    cat = stack.upload("photos/cat.jpg", _jpeg((800, 600)))
    stack.put_variants(cat)
    results = [stack.deliver(e) for events in round_events(cat).values() for e in events]
    assert [r["step"] for r in results] == ["wait"] * 3 + ["email"]
    email = assert_ready_email(stack.sent(), cat)
    assert "1,234 bytes; jpeg 800x600; image/jpeg; uploaded 2026-11-22T18:43:48Z" in email.body
    # every presigned link downloads its variant
    links = [line.strip() for line in email.body.splitlines() if line.strip().startswith("https://")]
    assert len(links) == 7
    for link, vkey in zip(links, all_variant_keys(cat), strict=True):
        response = requests.get(link, timeout=5)
        stored = stack.s3.get_object(Bucket=VARIANTS, Key=vkey)["Body"].read()
        assert response.status_code == 200 and response.content == stored, vkey
    assert "X-Amz-Expires=3600" in links[0]
    # what `imgpipe status photos/cat.jpg` shows
    status = DynamoCatalog(TABLE).latest(UPLOADS, "photos/cat.jpg")
    assert status is not None
    assert (status["status"], status["etag"], status["size"]) == ("completed", cat.etag, 1234)
    assert (status["format"], status["width"], status["height"]) == ("jpeg", 800, 600)
    assert {n: p["state"] for n, p in status["processors"].items()} == dict.fromkeys(PRODUCERS, "done")
    assert len(status["processors"]["resize"]["variants"]) == 3
    assert status["email"]["subject"] == email.subject and status["email"]["message_id"]
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": f"s3://{UPLOADS}/photos/cat.jpg"}, "sk": {"S": f"etag#{cat.etag}"}}
    )["Item"]
    assert int(item["expires_at"]["N"]) > 0


def test_every_arrival_order_of_three_processors_and_the_upload(stack: Stack) -> None:
    orders = list(itertools.permutations(["upload", *sorted(PRODUCERS)]))
    assert len(orders) == 24
    for i, order in enumerate(orders):
        upload = stack.upload(f"perm/{i:02d}.jpg", f"image {i}".encode())
        events = round_events(upload, shape="aws" if i % 2 else "moto")
        for part in order:
            for e in events[part]:
                stack.deliver(e)
        assert_ready_email(stack.sent(upload.key), upload)
    assert len(stack.sent()) == 24


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_event_delivered_twice_in_any_order(stack: Stack, seed: int) -> None:
    upload = stack.upload("photos/twice.jpg", f"twice {seed}".encode())
    events = [e for group in round_events(upload).values() for e in group]
    deliveries = events * 2
    random.Random(seed).shuffle(deliveries)
    results = [stack.deliver(e) for e in deliveries]
    assert sum(not r["fresh"] for r in results) == len(events)
    assert_ready_email(stack.sent(), upload)
    # a full replay of the round later (e.g. a DLQ redrive) sends nothing either
    for e in events:
        assert stack.deliver(e)["step"] == "nothing"
    assert len(stack.sent()) == 1


def test_partial_when_one_processor_rejects(stack: Stack) -> None:
    gif = stack.upload("anim/long.gif", b"GIF89a...")
    events = [
        rejected_event(gif, "convert", "too_many_frames", "long.gif has 400 frames; the limit is 300"),
        *variant_events(gif, "resize"),
        upload_event(gif),
        *variant_events(gif, "thumbnail"),
    ]
    for e in events:
        stack.deliver(e)
    (email,) = stack.sent()
    assert email.subject == "imgpipe: anim/long.gif is partly ready (5 variants; rejected: too_many_frames)"
    assert "convert: rejected (too_many_frames)\n  long.gif has 400 frames; the limit is 300\n" in email.body
    assert email.body.count(f"s3://{VARIANTS}/") == 5
    assert email.attributes == {
        "status": {"Type": "String", "Value": "partial"},
        "prefix": {"Type": "String", "Value": "anim"},
        "key": {"Type": "String", "Value": gif.key},
        "processor": {"Type": "String.Array", "Value": '["convert"]'},
        "reason": {"Type": "String.Array", "Value": '["too_many_frames"]'},
    }
    assert DynamoCatalog(TABLE).latest(UPLOADS, gif.key)["status"] == "partial"  # type: ignore[index]


def test_rejected_by_every_processor(stack: Stack) -> None:
    txt = stack.upload("cat.txt", b"just text")
    for p in sorted(PRODUCERS):
        stack.deliver(rejected_event(txt, p, "unsupported_format", f"{p}: the bytes are text, not an image"))
    (email,) = stack.sent()
    assert email.subject == "imgpipe: cat.txt was rejected (unsupported_format)"
    for p in PRODUCERS:
        assert f"{p}: rejected (unsupported_format)\n  {p}: the bytes are text, not an image\n" in email.body
    assert email.attributes["status"]["Value"] == "rejected"
    assert email.attributes["prefix"]["Value"] == "/"
    assert json.loads(email.attributes["processor"]["Value"]) == sorted(PRODUCERS)


def test_overwrite_with_a_new_etag_mid_round(stack: Stack) -> None:
    old = stack.upload("photos/dog.jpg", b"first dog")
    stack.deliver(upload_event(old))
    for e in variant_events(old, "resize"):
        stack.deliver(e)
    new = stack.upload("photos/dog.jpg", b"second dog")  # overwritten before the others ran
    assert new.etag != old.etag
    # the remaining processors see the new etag and report the old upload as superseded
    stack.deliver(rejected_event(old, "thumbnail", "superseded", "overwritten"))
    new_events = round_events(new)
    for e in new_events["upload"] + new_events["resize"] + new_events["convert"]:
        stack.deliver(e)
    # late events of the old round arrive while the new round is in flight
    stack.deliver(rejected_event(old, "convert", "superseded", "overwritten"))
    for e in variant_events(old, "thumbnail"):
        stack.deliver(e)
    assert stack.sent() == []
    for e in new_events["thumbnail"]:
        stack.deliver(e)
    assert_ready_email(stack.sent(), new)
    catalog = DynamoCatalog(TABLE)
    assert catalog.get(UPLOADS, old.key, old.etag)["status"] == "superseded"  # type: ignore[index]
    latest = catalog.latest(UPLOADS, old.key)
    assert latest is not None and latest["etag"] == new.etag and latest["status"] == "completed"
    assert [h["etag"] for h in catalog.history(UPLOADS, old.key)] == [new.etag, old.etag]


def test_a_failed_publish_is_retried_and_sends_once(stack: Stack) -> None:
    cat = stack.upload("photos/retry.jpg", b"retry")
    *first, last = [e for group in round_events(cat).values() for e in group]
    for e in first:
        stack.deliver(e)
    stack.sns.delete_topic(TopicArn=stack.topic_arn)  # SNS refuses the publish
    with pytest.raises(Exception, match=r"NotFound|does not exist"):
        stack.deliver(last)
    item = DynamoCatalog(TABLE).latest(UPLOADS, cat.key)
    assert item is not None and item["email"]["sent_at"] is None  # the claim was given back
    assert stack.sns.create_topic(Name="imgpipe-notifications")["TopicArn"] == stack.topic_arn
    assert stack.deliver(last)["sent"] is True  # Lambda's retry of the same event
    stack.deliver(last)
    assert_ready_email(stack.sent(), cat)


def _subscribe(stack: Stack, name: str, policy: dict[str, Any]) -> str:
    url = stack.sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    stack.sns.subscribe(
        TopicArn=stack.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(policy), "RawMessageDelivery": "true"},
    )
    return url


def _received(stack: Stack, url: str) -> list[str]:
    messages = stack.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(m["Body"].splitlines()[0] for m in messages)


def test_documented_filter_policies_select_emails(stack: Stack) -> None:
    policies = documented_filter_policies()
    assert policies == [{"status": ["rejected", "partial"]}, {"prefix": ["photos"]}, {"processor": ["convert"]}]
    rejections, photos, convert = (_subscribe(stack, f"q{i}", p) for i, p in enumerate(policies))
    ok = stack.upload("photos/ok.jpg", b"ok")
    bad = stack.upload("scans/bad.tif", b"bad")
    for group in round_events(ok).values():
        for e in group:
            stack.deliver(e)
    for e in [*variant_events(bad, "resize"), *variant_events(bad, "thumbnail")]:
        stack.deliver(e)
    stack.deliver(rejected_event(bad, "convert", "too_many_pixels"))
    assert len(stack.sent()) == 2
    assert _received(stack, rejections) == ["scans/bad.tif is partly ready: 5 variants; 1 processor rejected it."]
    assert _received(stack, photos) == ["photos/ok.jpg is ready: 7 variants."]
    assert _received(stack, convert) == ["scans/bad.tif is partly ready: 5 variants; 1 processor rejected it."]
