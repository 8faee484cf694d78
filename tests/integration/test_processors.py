"""Each image processor's real handler under moto: S3 in and out, pipeline events on the default
bus captured through a rule into SQS. The processors are found by discovery: every service that
makes variants of uploads and needs nothing but the two buckets, so a new one (a copied
folder) is held to the same contract with no edit here; each one's exact sizes are its own tests'.
Events come from the JSON fixtures in tests/fixtures/events, in both shapes: moto's (``eTag``)
and real AWS's (``etag``; the key as stored or URL-encoded)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote

import boto3
import pytest
from moto import mock_aws

from imgpipe.adapters import client
from imgpipe.config import Config, use_config
from imgpipe.imaging.header import header_facts
from imgpipe.needs import Need
from imgpipe.registry import discover
from tests import events
from tests import imagegen as g

UPLOADS, VARIANTS = "imgpipe-test-uploads", "imgpipe-test-variants"
# every producer has the event key (optional: without it, as here, its events go unsigned)
MANIFESTS = {
    m.name: m for m in discover() if m.produces_variants and m.narrowed_uploads() and not (m.needs - {Need.EVENT_KEY})
}
PROCESSORS = tuple(MANIFESTS)
AWKWARD_KEYS = ["photos/my cat.jpg", "a+b (1).jpg", "100% real%20.jpg", "ünïcødé/фото 😀.jpg"]


@dataclass
class FakeContext:
    function_name: str = "imgpipe-test"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:imgpipe-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"


def object_created(shape: str, key: str, etag: str, size: int, encode_key: bool = False) -> dict[str, Any]:
    """From the shared fixtures; ``encode_key`` URL-encodes the key as classic S3 notifications do."""
    named = quote_plus(key, safe="/") if encode_key else key
    return events.object_created(UPLOADS, named, etag, size=size, shape=shape)


class Harness:
    def __init__(self, queue_url: str) -> None:
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.queue_url = queue_url

    def upload(self, key: str, data: bytes) -> str:
        return self.s3.put_object(Bucket=UPLOADS, Key=key, Body=data)["ETag"].strip('"')

    def invoke(self, processor: str, event: dict[str, Any], **settings: Any) -> dict[str, Any]:
        handler = importlib.import_module(f"services.{processor}.handler").handler
        config = Config(
            processor=processor,
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            settings={**MANIFESTS[processor].settings, **settings},
        )
        with use_config(config):
            return handler(event, FakeContext(function_name=f"imgpipe-{processor}"))

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return out
            for message in batch:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def variant_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=VARIANTS).get("Contents", [])
        return sorted(o["Key"] for o in listed)


@pytest.fixture(scope="module")
def moto_world() -> Iterator[Harness]:
    """One emulated account for the module (starting moto costs about a second)."""
    client.cache_clear()  # boto3 clients must be created inside the mock
    with mock_aws():
        s3, bus, sqs = boto3.client("s3"), boto3.client("events"), boto3.client("sqs")
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=VARIANTS)
        queue_url = sqs.create_queue(QueueName="pipeline-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": [f"imgpipe.{p}" for p in PROCESSORS]}
        bus.put_rule(Name="capture", EventPattern=json.dumps(pattern))
        bus.put_targets(Rule="capture", Targets=[{"Id": "queue", "Arn": arn}])
        yield Harness(queue_url)
    client.cache_clear()


@pytest.fixture
def harness(moto_world: Harness) -> Harness:
    """The module's account, emptied: no objects, no pending events."""
    for bucket in (UPLOADS, VARIANTS):
        for obj in moto_world.s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            moto_world.s3.delete_object(Bucket=bucket, Key=obj["Key"])
    moto_world.events()
    return moto_world


#: what the processors known when this was written make of a 1000x700 JPEG: widths below it plus
#: its own width; one thumbnail; WebP + AVIF (no JPEG of a JPEG). Any other processor found is held
#: to the contract without them.
KNOWN = {
    "resize": {"1000w.jpg": (1000, 700), "640w.jpg": (640, 448), "320w.jpg": (320, 224)},
    "thumbnail": {"300x300.webp": (300, 300)},
    "convert": {"full.webp": (1000, 700), "full.avif": (1000, 700)},
}
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "png": "image/png",
    "gif": "image/gif",
}


def test_the_processors_are_found_by_discovery() -> None:
    assert {"resize", "thumbnail", "convert"} <= set(PROCESSORS)


@pytest.mark.parametrize("shape", ["moto", "aws"])
@pytest.mark.parametrize("processor", PROCESSORS)
def test_processor_writes_variants_and_announces_them(harness: Harness, processor: str, shape: str) -> None:
    key = "uploads/holiday 2026/beach+sun 100%.jpg"
    data = g.jpeg(g.photo((1000, 700)), exif=g.exif(gps=True, copyright="(c) Holiday"))
    etag = harness.upload(key, data)

    result = harness.invoke(processor, object_created(shape, key, etag, len(data)))

    prefix = f"{processor}/{key}/"
    assert result["status"] == "processed" and result["key"] == key
    assert result["variants"] and all(v.startswith(prefix) for v in result["variants"])
    assert harness.variant_keys() == sorted(result["variants"])  # nothing but the variants
    sizes = {}
    for variant in result["variants"]:
        obj = harness.s3.get_object(Bucket=VARIANTS, Key=variant)
        body = obj["Body"].read()
        assert obj["ContentType"] == CONTENT_TYPES[variant.rsplit(".", 1)[-1]], variant
        assert obj["CacheControl"].startswith("public")
        assert unquote(obj["Metadata"]["source-key"]) == key
        assert obj["Metadata"]["source-etag"] == etag and obj["Metadata"]["processor"] == processor
        assert not g.has_gps(body)
        sizes[variant] = header_facts(body)[1]
    if processor in KNOWN:
        assert sizes == {prefix + name: size for name, size in KNOWN[processor].items()}

    announced = harness.events()
    # one event for the upload, listing every variant
    [event] = announced
    assert (event["detail-type"], event["source"]) == ("Variants Created", f"imgpipe.{processor}")
    d = event["detail"]
    assert (d["key"], d["etag"], d["variant_count"], d["version"]) == (key, etag, len(sizes), 2)
    listed = {v["key"]: (v["width"], v["height"]) for v in d["variants"]}
    assert listed == sizes


@pytest.mark.parametrize(
    ("shape", "encode_key"), [("moto", False), ("aws", False), ("aws", True)], ids=["moto", "aws", "aws-url-encoded"]
)
@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_awkward_keys_resolve_to_the_stored_object(harness: Harness, key: str, shape: str, encode_key: bool) -> None:
    data = g.jpeg(g.gradient((400, 300)))
    etag = harness.upload(key, data)
    result = harness.invoke("thumbnail", object_created(shape, key, etag, len(data), encode_key=encode_key))
    assert result["status"] == "processed" and result["key"] == key
    assert f"thumbnail/{key}/300x300.webp" in harness.variant_keys()
    (event,) = harness.events()
    assert event["detail"]["key"] == key


@pytest.mark.parametrize("processor", PROCESSORS)
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (g.TEXT_FILE, "unsupported_format"),
        (g.png_claiming(50_000, 50_000), "too_many_pixels"),
        (g.truncated(g.jpeg(g.photo((300, 200)))), "corrupt_image"),
    ],
    ids=["text-named-jpg", "50000x50000", "truncated"],
)
def test_bad_uploads_are_rejected_not_raised(harness: Harness, processor: str, data: bytes, reason: str) -> None:
    key = "incoming/photo.jpg"
    etag = harness.upload(key, data)
    result = harness.invoke(processor, object_created("aws", key, etag, len(data)))
    assert result["status"] == "rejected" and result["reason"] == reason
    assert harness.variant_keys() == []
    (event,) = harness.events()
    assert event["detail-type"] == "Image Rejected"
    assert (event["detail"]["reason"], event["detail"]["processor"], event["detail"]["etag"]) == (
        reason,
        processor,
        etag,
    )


def test_replayed_event_skips_the_work_and_announces_again(harness: Harness) -> None:
    key = "again.png"
    data = g.png(g.photo((700, 500)))
    etag = harness.upload(key, data)
    event = object_created("moto", key, etag, len(data))
    first = harness.invoke("resize", event)
    before = {k: harness.s3.head_object(Bucket=VARIANTS, Key=k)["LastModified"] for k in harness.variant_keys()}
    harness.events()
    second = harness.invoke("resize", event)
    assert first["status"] == "processed" and second["status"] == "skipped"
    assert sorted(second["variants"]) == sorted(first["variants"])
    after = {k: harness.s3.head_object(Bucket=VARIANTS, Key=k)["LastModified"] for k in harness.variant_keys()}
    assert after == before
    [again] = harness.events()  # one event, listing them all again
    assert [v["key"] for v in again["detail"]["variants"]] == second["variants"]
    # other settings are other outputs: the work is done again
    third = harness.invoke("resize", event, jpeg_quality=60)
    assert third["status"] == "processed"


def test_missing_object_is_rejected(harness: Harness) -> None:
    result = harness.invoke("convert", object_created("moto", "gone.jpg", "0" * 32, 10))
    assert result["status"] == "rejected" and result["reason"] == "object_missing"
