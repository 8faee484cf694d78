"""backfill's item Lambda on moto: a batch goes on the bus, and each service's own rule (the
pattern the stack and the local stack build) takes the events addressed to it; the summary step
on moto's S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from imgpipe.adapters import client
from imgpipe.backfill import (
    ENV_CATALOG_TABLE,
    ENV_EVENT_BUS,
    ENV_EVENT_KEY_ARN,
    ENV_KEY_PREFIXES,
    ENV_UPLOADS_BUCKET,
    ENV_VARIANTS_BUCKET,
    DeliveryFailed,
    EventBusTransport,
    routes_as_list,
    routes_from_manifests,
    summary_key,
)
from imgpipe.catalog import RoundRef, create_table
from imgpipe.events import Upload
from imgpipe.manifest import rule_pattern
from imgpipe.registry import discover
from imgpipe.signing import verify

from .. import handler as item

UPLOADS, VARIANTS, TABLE = "bf-uploads", "bf-variants", "bf-catalog"
#: notify (told first) and one producer, as their manifests declare them
MANIFESTS = [m for m in discover() if m.name in ("notify", "thumbnail")]


@dataclass
class Ctx:
    s3: Any
    sqs: Any
    dynamodb: Any
    queues: dict[str, str]

    def received(self, service: str) -> list[dict[str, Any]]:
        """The events the service's rules delivered to its queue (its function, on AWS)."""
        out = []
        while True:
            r = self.sqs.receive_message(QueueUrl=self.queues[service], MaxNumberOfMessages=10)
            if not r.get("Messages"):
                return out
            out += [json.loads(m["Body"]) for m in r["Messages"]]
            for m in r["Messages"]:
                self.sqs.delete_message(QueueUrl=self.queues[service], ReceiptHandle=m["ReceiptHandle"])

    def recorded(self, key: str, etag: str) -> None:
        """What notify does with its event: the catalog round records the upload."""
        ref = RoundRef.of(Upload(UPLOADS, key, etag))
        item = {k: {"S": v} for k, v in ref.item_key.items()} | {"uploaded_at": {"S": "2024-05-01T10:00:00Z"}}
        self.dynamodb.put_item(TableName=TABLE, Item=item)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ctx]:
    with mock_aws():
        s3, sqs, events = boto3.client("s3"), boto3.client("sqs"), boto3.client("events")
        for bucket in (UPLOADS, VARIANTS):
            s3.create_bucket(Bucket=bucket)
        dynamodb = boto3.client("dynamodb")
        create_table(dynamodb, TABLE)
        queues = {}
        producers = [m.name for m in MANIFESTS if m.produces_variants]
        for m in MANIFESTS:
            url = sqs.create_queue(QueueName=m.name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            queues[m.name] = url
            for i, trigger in enumerate(m.rule_triggers()):
                name = f"{m.name}-{i}"
                events.put_rule(Name=name, EventPattern=json.dumps(rule_pattern(m.name, trigger, UPLOADS, producers)))
                events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": arn}])
        for name, value in {
            ENV_UPLOADS_BUCKET: UPLOADS,
            ENV_VARIANTS_BUCKET: VARIANTS,
            ENV_EVENT_BUS: "default",
            ENV_CATALOG_TABLE: TABLE,
            ENV_KEY_PREFIXES: "[]",
        }.items():
            monkeypatch.setenv(name, value)
        yield Ctx(s3, sqs, dynamodb, queues)


def _batch(*keys: str, **selection: Any) -> dict[str, Any]:
    return {
        "Items": [{"Key": k} for k in keys],
        "BatchInput": {
            "selection": {"run": "r1", **selection},
            "routes": routes_as_list(routes_from_manifests(MANIFESTS)),
        },
    }


def _etag(ctx: Ctx, key: str) -> str:
    return str(ctx.s3.head_object(Bucket=UPLOADS, Key=key)["ETag"]).strip('"')


def test_each_service_gets_through_its_own_rule_only_the_events_addressed_to_it(aws: Ctx) -> None:
    aws.s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"x")
    aws.recorded("a.jpg", _etag(aws, "a.jpg"))  # notify has recorded it: the producers may be told
    result = item.handler(_batch("a.jpg", "gone.jpg"), None)
    assert result["counts"] == {"dispatched": 1, "missing": 1}
    [to_notify], [to_thumbnail] = aws.received("notify"), aws.received("thumbnail")
    assert to_notify["source"] == to_thumbnail["source"] == "imgpipe.backfill"
    assert to_notify["detail"]["imgpipe"] == {"backfill": "r1", "notify": False, "targets": ["notify"]}
    assert to_thumbnail["detail"]["imgpipe"]["targets"] == ["thumbnail"]
    assert to_thumbnail["detail"]["object"]["key"] == "a.jpg"


def test_with_notify_one_event_reaches_every_service_at_once(aws: Ctx) -> None:
    aws.s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"x")
    item.handler(_batch("a.jpg", notify=True), None)  # nothing to wait for: no round recorded
    [to_notify], [to_thumbnail] = aws.received("notify"), aws.received("thumbnail")
    assert to_notify["detail"] == to_thumbnail["detail"]
    assert to_notify["detail"]["imgpipe"]["targets"] == ["notify", "thumbnail"]


def test_with_the_stack_event_key_its_events_are_signed_as_the_producers_are(
    aws: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.cache_clear()  # the runtime's cached clients must be this mock's
    arn = boto3.client("secretsmanager").create_secret(Name="event-key", SecretString="k" * 48)["ARN"]
    monkeypatch.setenv(ENV_EVENT_KEY_ARN, arn)
    aws.s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"x")
    item.handler(_batch("a.jpg", notify=True), None)
    [to_notify] = aws.received("notify")
    assert verify(b"k" * 48, to_notify)  # notify believes it (services/notify/trust.py)
    assert not verify(b"another key", to_notify)
    client.cache_clear()


def test_an_upload_notify_did_not_record_reaches_no_producer_and_fails_the_batch(
    aws: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.s3.put_object(Bucket=UPLOADS, Key="a.jpg", Body=b"x")
    monkeypatch.setattr(item, "ACK_TIMEOUT_S", 0.3)
    with pytest.raises(DeliveryFailed, match=r"1 object\(s\) not delivered \(a.jpg\): notify: did not record"):
        item.handler(_batch("a.jpg"), None)
    assert len(aws.received("notify")) == 1
    assert aws.received("thumbnail") == []  # the map retries the batch; the producers wait for notify


def test_the_deployment_key_prefixes_narrow_the_routes_as_they_narrow_the_rules(
    aws: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws.s3.put_object(Bucket=UPLOADS, Key="other/a.jpg", Body=b"x")
    monkeypatch.setenv(ENV_KEY_PREFIXES, '["photos/"]')
    result = item.handler(_batch("other/a.jpg"), None)
    assert result["counts"] == {"no_service": 1}  # not waited for: notify's rule would not take it
    assert aws.received("notify") == aws.received("thumbnail") == []


def test_an_s3_upload_still_reaches_every_service_and_an_event_for_another_reaches_none(aws: Ctx) -> None:
    events = boto3.client("events")
    s3_detail = {"bucket": {"name": UPLOADS}, "object": {"key": "a.jpg", "etag": "e"}}
    # moto refuses no source: this stands for S3's own event
    events.put_events(Entries=[{"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps(s3_detail)}])
    assert len(aws.received("notify")) == len(aws.received("thumbnail")) == 1
    addressed = {**s3_detail, "imgpipe": {"backfill": "r", "notify": False, "targets": ["resize"]}}
    events.put_events(
        Entries=[{"Source": "imgpipe.backfill", "DetailType": "Object Created", "Detail": json.dumps(addressed)}]
    )
    assert aws.received("notify") == aws.received("thumbnail") == []


def test_the_summary_step_merges_the_result_files_and_writes_the_summary(aws: Ctx) -> None:
    s3 = aws.s3
    results = [
        {"Status": "SUCCEEDED", "Output": json.dumps({"counts": {"dispatched": 2}, "failed": []})},
        {"Status": "FAILED", "Input": json.dumps({"Items": [{"Key": "b.jpg"}]}), "Error": "DeliveryFailed"},
    ]
    s3.put_object(Bucket=VARIANTS, Key="_backfill/results/x/SUCCEEDED_0.json", Body=json.dumps(results[:1]))
    s3.put_object(Bucket=VARIANTS, Key="_backfill/results/x/FAILED_0.json", Body=json.dumps(results[1:]))
    files = {"SUCCEEDED": [{"Key": "_backfill/results/x/SUCCEEDED_0.json"}]}
    files["FAILED"] = [{"Key": "_backfill/results/x/FAILED_0.json"}]
    s3.put_object(Bucket=VARIANTS, Key="_backfill/results/x/manifest.json", Body=json.dumps({"ResultFiles": files}))
    event = {
        "action": "summarize",
        "run": "r1",
        "selection": {"run": "r1"},
        "result_writer": {"Bucket": VARIANTS, "Key": "_backfill/results/x/manifest.json"},
    }
    out = item.handler(event, None)
    assert out["summary"] == f"s3://{VARIANTS}/{summary_key('r1')}"
    written = json.loads(s3.get_object(Bucket=VARIANTS, Key=summary_key("r1"))["Body"].read())
    assert written["counts"]["dispatched"] == 2 and written["counts"]["failed"] == 1
    assert written["failed"][0]["key"] == "b.jpg" and written["status"] == "SUCCEEDED"


class RefusingBus:
    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        return {"Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"} for _ in Entries]}


def test_the_transport_reports_each_refused_event_in_words() -> None:
    transport = EventBusTransport(RefusingBus(), "default", acknowledged=lambda _e: True)
    event = {"source": "imgpipe.backfill", "detail-type": "Object Created", "detail": {}, "resources": [], "time": ""}
    assert transport.deliver([event, event], wait=True) == ["PutEvents: ThrottlingException: slow down"] * 2
