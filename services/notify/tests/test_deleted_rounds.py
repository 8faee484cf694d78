"""The delete cascade seen by notify (in memory): a deleted upload's round never sends an email
again, whatever arrives late, and a new upload of the same key, same bytes or not, is a new
round that ends with its email (docs/decisions.md "Delete cascade")."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from imgpipe.catalog import COMPLETED, DELETED, PROCESSING
from imgpipe.events import Upload
from imgpipe_tools.testing.memory_catalog import MemoryCatalog
from tests.notify_support import PRODUCERS, UPLOADS, VARIANTS, etag_of, producers_spec, upload_event, variant_events

from ..notifier import Notifier

KEY = "photos/cat.jpg"
DELETED_AT = "2026-11-23T09:15:02Z"
OLD = Upload(UPLOADS, KEY, etag_of("cat v1"), "version-1")


class Sender:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, email: object) -> str:
        self.sent.append(email.subject)  # type: ignore[attr-defined]
        return f"msg-{len(self.sent)}"


def notifier(catalog: MemoryCatalog, sender: Sender) -> Notifier:
    return Notifier(
        catalog=catalog,
        sender=sender,
        link=lambda b, k: f"https://{b}.example/{k}",
        expected_spec=producers_spec(),
        uploads_bucket=UPLOADS,
        variants_bucket=VARIANTS,
        clock=lambda: datetime(2026, 11, 23, 9, 20, tzinfo=UTC),
        sleep=lambda _s: None,
    )


def created(upload: Upload, time: str) -> dict:
    event = upload_event(upload)
    event["time"] = time
    event["detail"]["object"]["version-id"] = upload.version_id
    return event


def pipeline(upload: Upload) -> list[dict]:
    return [e for p in sorted(PRODUCERS) for e in variant_events(upload, p)]


def emailed_then_deleted() -> tuple[MemoryCatalog, Sender, Notifier]:
    catalog, sender = MemoryCatalog(), Sender()
    n = notifier(catalog, sender)
    for event in [created(OLD, "2026-11-22T18:43:48Z"), *pipeline(OLD)]:
        n.handle(event)
    assert len(sender.sent) == 1
    assert catalog.mark_deleted(UPLOADS, KEY, now=datetime(2026, 11, 23, 9, 15, 5, tzinfo=UTC), deleted_at=DELETED_AT)
    return catalog, sender, n


def test_late_events_of_a_deleted_upload_send_nothing_and_resurrect_nothing() -> None:
    catalog, sender, n = emailed_then_deleted()
    for event in [*pipeline(OLD), created(OLD, "2026-11-22T18:43:48Z")]:  # replays, a redrive...
        assert n.handle(event)["step"] == "nothing"
    assert len(sender.sent) == 1
    assert catalog.latest(UPLOADS, KEY)["status"] == DELETED


def test_a_deletion_before_the_round_finished_ends_it_without_an_email() -> None:
    catalog, sender = MemoryCatalog(), Sender()
    n = notifier(catalog, sender)
    events = [created(OLD, "2026-11-22T18:43:48Z"), *pipeline(OLD)]
    for event in events[:3]:
        n.handle(event)
    catalog.mark_deleted(UPLOADS, KEY, now=datetime(2026, 11, 23, 9, 15, 5, tzinfo=UTC), deleted_at=DELETED_AT)
    for event in events[3:]:  # a processor that read the object just before it was deleted
        n.handle(event)
    assert sender.sent == []
    assert catalog.latest(UPLOADS, KEY)["status"] == DELETED


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("same_bytes", [True, False])
def test_an_upload_after_the_delete_is_a_new_round_with_its_email(seed: int, same_bytes: bool) -> None:
    catalog, sender, n = emailed_then_deleted()
    new = Upload(UPLOADS, KEY, OLD.etag if same_bytes else etag_of("cat v2"), "version-2")
    events = [created(new, "2026-11-23T10:00:00Z"), *pipeline(new)]
    random.Random(seed).shuffle(events)  # its processors may report before notify sees the upload
    for event in events + events[:2]:
        n.handle(event)
    assert len(sender.sent) == 2 and "is ready" in sender.sent[1]
    latest = catalog.latest(UPLOADS, KEY)
    assert latest["status"] == COMPLETED and latest["etag"] == new.etag and latest["deleted_at"] is None


def test_without_versions_the_times_tell_a_new_upload_from_a_late_one() -> None:
    # the local stack's bucket has no versioning: every version id is "null"
    catalog, sender = MemoryCatalog(), Sender()
    n = notifier(catalog, sender)
    old = Upload(UPLOADS, KEY, OLD.etag, "null")
    for event in [created(old, "2026-11-22T18:43:48Z"), *pipeline(old)]:
        n.handle(event)
    catalog.mark_deleted(UPLOADS, KEY, now=datetime(2026, 11, 23, 9, 15, 5, tzinfo=UTC), deleted_at=DELETED_AT)
    n.handle(created(old, "2026-11-22T18:43:48Z"))
    assert catalog.latest(UPLOADS, KEY)["status"] == DELETED
    n.handle(created(old, "2026-11-23T09:15:02Z"))  # the same second as the deletion counts as new
    assert catalog.latest(UPLOADS, KEY)["status"] == PROCESSING
    for event in pipeline(old):
        n.handle(event)
    assert len(sender.sent) == 2
