"""The delete cascade on moto: the real handlers (the processors, notify and purge) with S3,
EventBridge, DynamoDB and SNS emulated. The deletion event is the one moto itself puts on the bus
when the upload is deleted. Also: the catalog's deletion writes answer the same on DynamoDB and
on the in-memory twin the unit tests use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from imgpipe.catalog import COMPLETED, DELETED, PROCESSING, DynamoCatalog, RoundRef, UploadFacts
from imgpipe.events import Upload, VariantInfo, VariantsCreated
from imgpipe.registry import variant_producers
from imgpipe.transforms import STORED_PREFIX
from imgpipe_tools.testing.memory_catalog import MemoryCatalog
from tests import imagegen as g
from tests.moto_pipeline import TABLE, UPLOADS, VARIANTS, MotoPipeline, moto_pipeline


def _process(p: MotoPipeline, key: str, data: bytes, *, time: str | None = None) -> list[dict[str, Any]]:
    """Upload, run every producer and notify on every event, as the bus would; the emails sent."""
    etag = p.upload(key, data)
    created = p.created_event(key, etag, len(data))
    if time:
        created["time"] = time
    for m in variant_producers(list(p.manifests.values())):
        assert p.invoke(m.name, created).result["status"] == "processed"
    for event in [created, *p.drain_events()]:
        p.invoke("notify", event)
    return p.emails()


def _deletion_events(p: MotoPipeline) -> str:
    """Have moto put the uploads bucket's events on the bus, and catch its deletions in a queue."""
    s3, events, sqs = boto3.client("s3"), boto3.client("events"), boto3.client("sqs")
    s3.put_bucket_notification_configuration(Bucket=UPLOADS, NotificationConfiguration={"EventBridgeConfiguration": {}})
    url = sqs.create_queue(QueueName="deletions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # the purge's own pattern, from its manifest
    (trigger,) = p.manifests["purge"].triggers
    events.put_rule(Name="purge", EventPattern=json.dumps(trigger.event_pattern(UPLOADS)))
    events.put_targets(Rule="purge", Targets=[{"Id": "q", "Arn": arn}])
    return url


def _received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in msgs]


def test_a_deleted_upload_leaves_no_variant_and_no_live_round_and_may_come_back() -> None:
    with moto_pipeline(with_notify=True) as p:
        deletions = _deletion_events(p)
        cat, dog = "photos/cat.jpg", "photos/cat.jpg/dog.jpg"  # dog's variants live under cat's prefixes
        cat_bytes = g.jpeg(g.photo((640, 480)))
        assert len(_process(p, cat, cat_bytes)) == 1
        assert len(_process(p, dog, g.jpeg(g.photo((300, 200))))) == 1
        late = [e for e in p.captured if e["detail"]["key"] == cat and e["detail-type"] == "Variants Created"]
        # the transform service's large renderings, one folder per ETag (services/transform/service.py)
        for key in (f"{cat}/e1/w3000_inside.png", f"{cat}/e0/w2000_cover.auto.avif", f"{dog}/e2/w3000_inside.png"):
            p.s3.put_object(Bucket=VARIANTS, Key=f"{STORED_PREFIX}{key}", Body=b"x")
        dogs = [k for k in p.variant_keys() if f"/{dog}/" in k]
        cats = sorted(set(p.variant_keys()) - set(dogs))
        assert late and dogs and len(cats) >= 6 + 2  # variants and a done record of each of the 3 producers

        p.s3.delete_object(Bucket=UPLOADS, Key=cat)
        (event,) = _received(deletions)
        assert (event["detail-type"], event["detail"]["object"]["key"]) == ("Object Deleted", cat)
        result = p.invoke("purge", event).result

        assert result["action"] == "purge" and result["rounds_marked"] == 1
        assert result["variants_deleted"] == len(cats)
        assert p.variant_keys() == sorted(dogs)
        catalog = DynamoCatalog(TABLE, dynamodb=boto3.client("dynamodb"))
        status = catalog.latest(UPLOADS, cat)
        assert status["status"] == DELETED and status["deleted_at"] == event["time"]
        assert catalog.latest(UPLOADS, dog)["status"] == COMPLETED

        # a processor that read the upload just before the delete announces late: no email, still deleted
        for e in late:
            p.invoke("notify", e)
        assert p.emails() == [] and catalog.latest(UPLOADS, cat)["status"] == DELETED
        # the event again (EventBridge delivers at least once): nothing left to do
        again = p.invoke("purge", event).result
        assert again["variants_deleted"] == 0 and catalog.latest(UPLOADS, cat)["status"] == DELETED

        # the same bytes again: a new upload, processed again and emailed
        later = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        emails = _process(p, cat, cat_bytes, time=later)
        assert len(emails) == 1 and "is ready" in emails[0]["Subject"]
        assert catalog.latest(UPLOADS, cat)["status"] == COMPLETED
        assert sorted(set(p.variant_keys()) - set(dogs)) == [k for k in cats if not k.startswith(STORED_PREFIX)]


# --- the catalog's deletion writes, on DynamoDB and in memory ---------------------------------------
NOW = datetime(2026, 11, 23, 9, 15, 5, tzinfo=UTC)
UP = Upload("uploads", "dir/ü #1 +%20.jpg", "e1", "v1")


def _emailed(catalog: DynamoCatalog | MemoryCatalog, upload: Upload, at: str) -> None:
    catalog.record_upload(upload, UploadFacts(at, 5, version_id=upload.version_id), expected=["resize"], now=NOW)
    info = VariantInfo("resize", "variants", f"resize/{upload.key}/320w.webp", "webp", 320, 240, 9)
    catalog.record_variants(VariantsCreated(upload, info.processor, (info,), "h"), expected=["resize"], now=NOW)
    assert catalog.claim_email(RoundRef.of(upload), COMPLETED, token="t", now=NOW, stale_before=NOW)
    assert catalog.confirm_email(RoundRef.of(upload), token="t", message_id="m", subject="s", now=NOW)


def test_mark_deleted_ends_every_round_and_forgets_their_records(catalog: DynamoCatalog | MemoryCatalog) -> None:
    _emailed(catalog, UP, "2026-11-22T10:00:00Z")
    _emailed(catalog, Upload(UP.bucket, UP.key, "e2", "v2"), "2026-11-22T11:00:00Z")
    other = Upload(UP.bucket, UP.key + "x", "e3", "v3")
    _emailed(catalog, other, "2026-11-22T12:00:00Z")

    marked = catalog.mark_deleted(UP.bucket, UP.key, now=NOW, deleted_at="2026-11-23T09:15:02Z")

    assert sorted(r.etag for r in marked) == ["e1", "e2"]
    for r in catalog.rounds(UP.bucket, UP.key):
        assert (r.status, r.deleted_at, r.variants, r.email_message_id) == (DELETED, "2026-11-23T09:15:02Z", (), "m")
    assert catalog.rounds(other.bucket, other.key)[0].status == COMPLETED
    # no email can be claimed for a deleted round
    assert not catalog.claim_email(RoundRef.of(UP), COMPLETED, token="x", now=NOW, stale_before=NOW + timedelta(1))
    # a second deletion keeps the first one's time
    catalog.mark_deleted(UP.bucket, UP.key, now=NOW, deleted_at="2026-11-24T00:00:00Z")
    assert {r.deleted_at for r in catalog.rounds(UP.bucket, UP.key)} == {"2026-11-23T09:15:02Z"}


def test_mark_deleted_of_one_version(catalog: DynamoCatalog | MemoryCatalog) -> None:
    _emailed(catalog, UP, "2026-11-22T10:00:00Z")
    _emailed(catalog, Upload(UP.bucket, UP.key, "e2", "v2"), "2026-11-22T11:00:00Z")
    assert [r.etag for r in catalog.mark_deleted(UP.bucket, UP.key, now=NOW, version_id="v1")] == ["e1"]
    assert {r.etag: r.status for r in catalog.rounds(UP.bucket, UP.key)} == {"e1": DELETED, "e2": COMPLETED}


def test_a_new_upload_of_the_same_bytes_reopens_the_round(catalog: DynamoCatalog | MemoryCatalog) -> None:
    _emailed(catalog, UP, "2026-11-22T10:00:00Z")
    catalog.mark_deleted(UP.bucket, UP.key, now=NOW, deleted_at="2026-11-23T09:15:02Z")
    stale = catalog.record_upload(
        UP, UploadFacts("2026-11-22T10:00:00Z", 5, version_id="v1"), expected=["resize"], now=NOW
    )
    assert stale.round.status == DELETED
    new = Upload(UP.bucket, UP.key, UP.etag, "v9")
    again = catalog.record_upload(
        new, UploadFacts("2026-11-23T10:00:00Z", 7, version_id="v9"), expected=["resize"], now=NOW
    )
    assert again.fresh and again.round.status == PROCESSING
    assert (again.round.size, again.round.version_id, again.round.email_message_id, again.round.deleted_at) == (
        7,
        "v9",
        None,
        None,
    )
    assert catalog.claim_email(RoundRef.of(new), COMPLETED, token="t2", now=NOW, stale_before=NOW)
