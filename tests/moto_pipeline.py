"""The real processor handlers, invoked directly under moto, with everything they talk to.

For tests that need the handlers themselves (not the local stack's workers and queues): hostile
inputs, duplicated and shuffled deliveries, memory and time. Pipeline events the handlers put on
the default bus are captured by a catch-all rule into an SQS queue, as a subscriber would see them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from moto import mock_aws

from imgpipe.adapters import client
from imgpipe.catalog.schema import create_table as create_catalog_table
from imgpipe.config import Config, use_config
from imgpipe.manifest import Manifest
from imgpipe.needs import Resource
from imgpipe.registry import StackNames, discover, expected_producers_spec, function_config
from imgpipe_tools.local.lambda_env import LambdaContext, load_handler, sqs_batch
from imgpipe_tools.local.provision import generated_secret
from imgpipe_tools.local.stack import LOCAL_DEFAULT_SETTINGS
from tests.events import object_created

UPLOADS = "imgpipe-uploads"
VARIANTS = "imgpipe-variants"
TABLE = "imgpipe-catalog"


@dataclass
class Invocation:
    processor: str
    result: dict[str, Any]
    seconds: float


@dataclass
class MotoPipeline:
    manifests: dict[str, Manifest]
    events_queue: str
    topic_arn: str = ""
    emails_queue: str = ""
    event_key_arn: str = ""
    captured: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3")

    @cached_property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    def config(self, name: str) -> Config:
        """The processor's config, built as infra/ and the local stack build theirs."""
        names = StackNames(
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            resources={
                Resource.CATALOG_TABLE: TABLE,
                Resource.NOTIFICATION_TOPIC: self.topic_arn,
                Resource.EXPECTED_PRODUCERS: expected_producers_spec(list(self.manifests.values())),
                # the producers sign their events and notify checks them, as in every stack
                Resource.EVENT_KEY: self.event_key_arn,
            },
        )
        # what the local stack overrides for the emulator (moto has no Rekognition: moderate's stand-in)
        return function_config(self.manifests[name], names, LOCAL_DEFAULT_SETTINGS.get(name))

    def upload(self, key: str, data: bytes) -> str:
        etag = self.s3.put_object(Bucket=UPLOADS, Key=key, Body=data)["ETag"].strip('"')
        return etag

    def created_event(self, key: str, etag: str, size: int) -> dict[str, Any]:
        event = object_created(UPLOADS, key, etag, size=size, shape="moto")
        event["resources"] = [f"arn:aws:s3:::{UPLOADS}"]
        return event

    def invoke(self, name: str, event: dict[str, Any]) -> Invocation:
        """One invocation of the real handler with the processor's own config and a Lambda context."""
        manifest = self.manifests[name]
        handler = load_handler(manifest)
        started = time.perf_counter()
        with use_config(self.config(name)):
            result = handler(event, LambdaContext(manifest))
        return Invocation(name, result, time.perf_counter() - started)

    def invoke_batch(self, name: str, events: list[dict[str, Any]]) -> Invocation:
        """One invocation with ``events`` as Lambda's SQS event source hands a batch of its input
        queue to a service with ``[batch]``; the result is the partial batch response."""
        batch = sqs_batch(self.manifests[name], [(f"message-{i}", e) for i, e in enumerate(events)])
        return self.invoke(name, batch)

    def drain_events(self) -> list[dict[str, Any]]:
        """Pipeline events put on the bus since the last call (also kept in ``captured``)."""
        new = _drain(self.sqs, self.events_queue)
        self.captured.extend(new)
        return new

    def variant_keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=VARIANTS, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return sorted(keys)

    def emails(self) -> list[dict[str, Any]]:
        """Messages published to the notification topic since the last call (SQS subscription)."""
        return _drain(self.sqs, self.emails_queue)


def _drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _queue(name: str) -> tuple[str, str]:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@contextmanager
def moto_pipeline(*, with_notify: bool = False) -> Iterator[MotoPipeline]:
    """Buckets, a bus subscriber for pipeline events and (optionally) notify's table and topic."""
    client.cache_clear()  # the adapters' cached clients must be moto's for the duration
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=VARIANTS)
        events_url, events_arn = _queue("pipeline-events")
        events = boto3.client("events")
        events.put_rule(Name="capture-pipeline-events", EventPattern=json.dumps({"source": [{"prefix": "imgpipe."}]}))
        events.put_targets(Rule="capture-pipeline-events", Targets=[{"Id": "q", "Arn": events_arn}])
        pipeline = MotoPipeline({m.name: m for m in discover()}, events_url)
        pipeline.event_key_arn = generated_secret(boto3.client("secretsmanager"), "imgpipe-event-key")
        # describe keeps its near-duplicate index in the catalog table, notify its rounds
        create_catalog_table(boto3.client("dynamodb"), TABLE)
        if with_notify:
            sns = boto3.client("sns")
            pipeline.topic_arn = sns.create_topic(Name="imgpipe-notifications")["TopicArn"]
            pipeline.emails_queue, emails_arn = _queue("emails")
            sns.subscribe(
                TopicArn=pipeline.topic_arn,
                Protocol="sqs",
                Endpoint=emails_arn,
                Attributes={"RawMessageDelivery": "false"},
            )
        try:
            yield pipeline
        finally:
            client.cache_clear()
