"""notify's service on the in-memory catalog: ordering, duplication, claims and failures."""

from __future__ import annotations

import contextlib
import io
import itertools
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from imgpipe.catalog import COMPLETED, PARTIAL, PROCESSING, REJECTED, SUPERSEDED, RoundRef
from imgpipe.errors import TransientError
from imgpipe.events import Upload
from imgpipe_tools.testing.fakes import FakeStorage
from imgpipe_tools.testing.memory_catalog import MemoryCatalog
from tests.notify_support import (
    PRODUCERS,
    UPLOADS,
    VARIANTS,
    all_variant_keys,
    etag_of,
    producers_spec,
    rejected_event,
    upload_event,
    variant_events,
)

from ..logic import Email
from ..notifier import Notifier

CAT = Upload(UPLOADS, "photos/cat.jpg", etag_of("cat v1"))


@dataclass
class FakeSender:
    sent: list[Email] = field(default_factory=list)
    failures: int = 0  # how many of the next sends raise

    def send(self, email: Email) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SNS unavailable")
        self.sent.append(email)
        return f"msg-{len(self.sent)}"


@dataclass
class FakeMetrics:
    counts: Counter = field(default_factory=Counter)

    def add_metric(self, name: str, unit: str, value: float) -> None:
        self.counts[name] += value


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Parts:
    catalog: MemoryCatalog = field(default_factory=MemoryCatalog)
    sender: FakeSender = field(default_factory=FakeSender)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    clock: Clock = field(default_factory=Clock)
    sleeps: list[float] = field(default_factory=list)

    def notifier(
        self, spec: str | None = None, uploads: FakeStorage | None = None, variants: FakeStorage | None = None
    ) -> Notifier:
        def read_head(bucket: str, key: str, etag: str) -> bytes | None:
            assert uploads is not None
            obj = uploads.objects.get((bucket, key))
            return obj.data[:100] if obj is not None and obj.etag == etag else None

        return Notifier(
            catalog=self.catalog,
            sender=self.sender,
            link=lambda b, k: f"https://{b}.s3.example/{k}?X-Amz-Signature=abc",
            expected_spec=spec or producers_spec(),
            uploads_bucket=UPLOADS,
            variants_bucket=VARIANTS,
            uploads=uploads,
            read_head=read_head if uploads is not None else None,
            variants=variants,
            settings={"link_expiry_s": 3600, "email_claim_timeout_s": 45, "email_claim_wait_s": 1},
            metrics=self.metrics,
            clock=self.clock,
            sleep=self.sleeps.append,
        )


def round_events(upload: Upload) -> list[dict[str, Any]]:
    return [upload_event(upload)] + [e for p in sorted(PRODUCERS) for e in variant_events(upload, p)]


def assert_one_ready_email(sender: FakeSender, upload: Upload = CAT) -> None:
    assert len(sender.sent) == 1
    email = sender.sent[0]
    assert email.subject == f"imgpipe: {upload.key} is ready (7 variants)"
    for vkey in all_variant_keys(upload):
        assert f"s3://imgpipe-variants/{vkey}" in email.body
    assert email.attributes == {"status": "completed", "prefix": "photos", "key": upload.key}


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.integers(0, 3), max_size=8))
def test_any_order_any_duplication_sends_exactly_one_email(rnd: random.Random, repeats: list[int]) -> None:
    parts = Parts()
    notifier = parts.notifier()
    events = round_events(CAT)
    deliveries = events + [events[i] for i in repeats]
    rnd.shuffle(deliveries)
    for event in deliveries:
        notifier.handle(event)
    assert_one_ready_email(parts.sender)
    assert parts.metrics.counts["EmailsSent"] == 1 and parts.metrics.counts["RoundsCompleted"] == 1
    # every repeat that came after the original is a suppressed duplicate
    assert parts.metrics.counts["DuplicatesSuppressed"] == len(repeats)
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.status == COMPLETED and stored.email_message_id == "msg-1"


def test_the_email_waits_for_every_producer_not_for_the_upload_event() -> None:
    parts = Parts()
    notifier = parts.notifier()
    results = [notifier.handle(e) for p in sorted(PRODUCERS) for e in variant_events(CAT, p)]
    # one event per producer: the third is the last report
    assert [r["step"] for r in results] == ["wait"] * 2 + ["email"]
    assert_one_ready_email(parts.sender)
    # the upload event arrives last: recorded, no second email
    assert notifier.handle(upload_event(CAT, size=99))["step"] == "nothing"
    assert len(parts.sender.sent) == 1
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.size == 99


def test_concurrent_deliveries_send_one_email() -> None:
    parts = Parts()
    notifier = parts.notifier()
    deliveries = round_events(CAT) * 3
    random.Random(7).shuffle(deliveries)

    def deliver(event: dict[str, Any]) -> None:
        # Lambda would retry a TransientError; here another thread holds the email claim.
        with contextlib.suppress(TransientError):
            notifier.handle(event)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(deliver, deliveries))
    assert_one_ready_email(parts.sender)


def test_partial_when_one_producer_rejects() -> None:
    parts = Parts()
    notifier = parts.notifier()
    for e in [*variant_events(CAT, "resize"), rejected_event(CAT, "convert", "too_many_frames", "400 frames")]:
        notifier.handle(e)
    assert parts.sender.sent == []
    for e in variant_events(CAT, "thumbnail"):
        notifier.handle(e)
    (email,) = parts.sender.sent
    assert email.subject == "imgpipe: photos/cat.jpg is partly ready (5 variants; rejected: too_many_frames)"
    assert "convert: rejected (too_many_frames)\n  400 frames" in email.body
    assert email.attributes == {
        "status": PARTIAL,
        "prefix": "photos",
        "key": CAT.key,
        "processor": ["convert"],
        "reason": ["too_many_frames"],
    }
    assert parts.metrics.counts["RoundsPartial"] == 1


def test_rejected_by_everyone() -> None:
    parts = Parts()
    notifier = parts.notifier()
    txt = Upload(UPLOADS, "photos/cat.txt", etag_of("text"))
    for p in sorted(PRODUCERS):
        notifier.handle(rejected_event(txt, p, "unsupported_format"))
        notifier.handle(rejected_event(txt, p, "unsupported_format"))
    (email,) = parts.sender.sent
    assert email.subject == "imgpipe: photos/cat.txt was rejected (unsupported_format)"
    assert email.attributes["status"] == REJECTED and email.attributes["processor"] == sorted(PRODUCERS)
    assert parts.metrics.counts["RoundsRejected"] == 1 and parts.metrics.counts["DuplicatesSuppressed"] == 3


def test_overwrite_mid_round_ends_the_old_round_silently_and_emails_the_new_one() -> None:
    parts = Parts()
    notifier = parts.notifier()
    new = Upload(UPLOADS, CAT.key, etag_of("cat v2"))
    notifier.handle(upload_event(CAT))
    for e in variant_events(CAT, "resize"):
        notifier.handle(e)
    # overwritten: the other processors find a new etag and report the old upload superseded
    notifier.handle(upload_event(new))
    notifier.handle(rejected_event(CAT, "thumbnail", "superseded"))
    for e in round_events(new)[1:]:
        notifier.handle(e)
    # late events of the old upload never touch the new round, nor send anything
    notifier.handle(rejected_event(CAT, "convert", "superseded"))
    for e in variant_events(CAT, "resize"):
        notifier.handle(e)
    assert_one_ready_email(parts.sender, new)
    old, current = parts.catalog.load(RoundRef.of(CAT)), parts.catalog.load(RoundRef.of(new))
    assert old is not None and old.status == SUPERSEDED and old.email_sent_at is None
    assert current is not None and current.status == COMPLETED
    assert parts.catalog.latest(UPLOADS, CAT.key)["etag"] == new.etag  # type: ignore[index]
    assert [h["etag"] for h in parts.catalog.history(UPLOADS, CAT.key)] == [new.etag, CAT.etag]


def test_failed_publish_releases_the_claim_and_the_retry_sends_once() -> None:
    parts = Parts()
    notifier = parts.notifier()
    *first, last = round_events(CAT)
    for e in first:
        notifier.handle(e)
    parts.sender.failures = 1
    with pytest.raises(ConnectionError):
        notifier.handle(last)
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.email_sent_at is None and stored.email_message_id is None
    (item,) = parts.catalog.items.values()
    assert item["email_last_error"] == "ConnectionError: SNS unavailable"
    notifier.handle(last)  # Lambda's retry of the same event
    notifier.handle(last)
    assert_one_ready_email(parts.sender)


def test_an_unconfirmed_claim_makes_others_retry_then_is_taken_over_when_stale() -> None:
    parts = Parts()
    notifier = parts.notifier()
    *first, last = round_events(CAT)
    for e in first:
        notifier.handle(e)
    # another invocation claimed the email and died before publishing
    assert parts.catalog.claim_email(
        RoundRef.of(CAT), COMPLETED, token="dead", now=parts.clock(), stale_before=parts.clock() - timedelta(1)
    )
    with pytest.raises(TransientError):
        notifier.handle(last)
    assert parts.sender.sent == [] and len(parts.sleeps) == 4  # waited (1 s in 0.2 s steps) before failing
    parts.clock.now += timedelta(seconds=46)  # Lambda's retry, a minute later: the claim is stale
    notifier.handle(last)
    assert_one_ready_email(parts.sender)


def test_a_key_outside_a_producers_prefix_does_not_wait_for_it() -> None:
    parts = Parts()
    notifier = parts.notifier(spec=producers_spec(only_prefix={"convert": "raw/"}))
    for e in [*variant_events(CAT, "resize"), *variant_events(CAT, "thumbnail")]:
        notifier.handle(e)
    (email,) = parts.sender.sent
    assert email.subject == "imgpipe: photos/cat.jpg is ready (5 variants)"
    assert "convert" not in email.body


def test_a_key_no_producer_handles_is_recorded_without_email() -> None:
    parts = Parts()
    spec = producers_spec(only_prefix=dict.fromkeys(PRODUCERS, "raw/"))
    result = parts.notifier(spec=spec).handle(upload_event(CAT))
    assert result["step"] == "end" and result["status"] == "ignored"
    assert parts.sender.sent == []


@pytest.mark.parametrize("stored_key", ["photos/my cat+dog ü.jpg", "photos/100%.jpg"])
def test_upload_event_with_an_encoded_key_joins_the_processors_round(stored_key: str) -> None:
    from urllib.parse import quote_plus

    parts = Parts()
    storage = FakeStorage()
    # a PNG header (what the first bytes say) under a declared JPEG content type
    png = io.BytesIO()
    Image.new("RGB", (320, 240)).save(png, "PNG")
    etag = storage.add(UPLOADS, stored_key, png.getvalue(), content_type="image/jpeg")
    upload = Upload(UPLOADS, stored_key, etag)
    notifier = parts.notifier(uploads=storage)
    encoded = quote_plus(stored_key, safe="/")
    assert notifier.handle(upload_event(upload, key=encoded))["step"] == "wait"
    stored = parts.catalog.load(RoundRef.of(upload))
    assert stored is not None and stored.content_type == "image/jpeg" and stored.uploaded_at == "2026-11-22T18:43:48Z"
    assert (stored.format, stored.width, stored.height) == ("png", 320, 240)
    assert parts.catalog.rounds(UPLOADS, encoded) == []


def test_an_upload_overwritten_before_notify_saw_it_is_not_described_with_the_new_bytes() -> None:
    parts = Parts()
    storage = FakeStorage()
    old_etag = storage.add(UPLOADS, "photos/x.jpg", b"first")
    storage.add(UPLOADS, "photos/x.jpg", b"\x89PNG\r\n\x1a\n second")
    notifier = parts.notifier(uploads=storage)
    old = Upload(UPLOADS, "photos/x.jpg", old_etag)
    notifier.handle(upload_event(old, size=5))
    stored = parts.catalog.load(RoundRef.of(old))
    assert stored is not None and stored.size == 5
    assert (stored.content_type, stored.format) == (None, None)


def test_a_customer_encrypted_upload_is_recorded_without_facts_and_rejected_by_the_processors() -> None:
    """notify cannot HEAD an SSE-C object (S3 answers 400): it records the round without the
    object's facts instead of failing, and the processors' rejections end it with one email."""
    parts = Parts()
    storage = FakeStorage()
    etag = storage.add(UPLOADS, "photos/secret.jpg", b"\xff\xd8 sealed", sse_c=True)
    upload = Upload(UPLOADS, "photos/secret.jpg", etag)
    notifier = parts.notifier(uploads=storage)
    assert notifier.handle(upload_event(upload, size=11))["step"] == "wait"
    for name in sorted(PRODUCERS):
        notifier.handle(rejected_event(upload, name, "customer_encrypted", "is encrypted with SSE-C"))
    [email] = parts.sender.sent
    assert "was rejected (customer_encrypted)" in email.subject


def test_every_order_of_three_processors_and_the_upload() -> None:
    for order in itertools.permutations(["upload", *sorted(PRODUCERS)]):
        parts = Parts()
        notifier = parts.notifier()
        for part in order:
            for e in [upload_event(CAT)] if part == "upload" else variant_events(CAT, part):
                result = notifier.handle(e)
        assert result["step"] == ("email" if order[-1] != "upload" else "nothing"), order
        assert_one_ready_email(parts.sender)
        stored = parts.catalog.load(RoundRef.of(CAT))
        assert stored is not None and stored.status != PROCESSING


class FlakyConfirms(MemoryCatalog):
    """A catalog whose next ``failures`` confirm writes raise (DynamoDB throttling that
    botocore's retries did not absorb)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def confirm_email(self, ref: RoundRef, **kw: Any) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("ProvisionedThroughputExceededException")
        return super().confirm_email(ref, **kw)


def test_a_confirm_write_that_fails_is_tried_again_so_no_second_email_follows() -> None:
    parts = Parts(catalog=FlakyConfirms(failures=3))
    notifier = parts.notifier()
    for e in round_events(CAT):
        notifier.handle(e)
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.email_message_id == "msg-1"
    assert parts.sleeps == [0.25, 0.5, 1.0]
    # a later replay, even once the claim would be stale, sends nothing: it was confirmed
    parts.clock.now += timedelta(minutes=5)
    for e in round_events(CAT):
        notifier.handle(e)
    assert_one_ready_email(parts.sender)


def test_a_confirm_that_fails_for_good_raises_and_the_email_may_go_out_twice() -> None:
    """The documented window (docs/notify.md "The one email"): SNS has the email, the confirm
    never lands; the stale claim is taken over and the email sent again, never lost."""
    parts = Parts(catalog=FlakyConfirms(failures=4))
    notifier = parts.notifier()
    *first, last = round_events(CAT)
    for e in first:
        notifier.handle(e)
    with pytest.raises(ConnectionError):
        notifier.handle(last)
    assert len(parts.sender.sent) == 1
    parts.clock.now += timedelta(seconds=46)
    notifier.handle(last)  # Lambda's retry, once the claim is stale
    assert len(parts.sender.sent) == 2


def test_uploads_and_upload_to_email_latency_are_counted_for_the_dashboard() -> None:
    parts = Parts()
    notifier = parts.notifier()
    events = round_events(CAT)
    for e in [*events, events[0]]:  # the upload event delivered twice counts once
        notifier.handle(e)
    assert parts.metrics.counts["UploadsReceived"] == 1
    # the upload event's time is 18:43:48, the clock says 19:00:00 when the email goes out
    assert parts.metrics.counts["UploadToEmailSeconds"] == 16 * 60 + 12


def test_a_backfill_of_some_services_completes_its_new_round_when_they_have_reported() -> None:
    parts = Parts()
    notifier = parts.notifier()
    event = upload_event(CAT)
    # what `imgpipe backfill --services resize --notify` marks its event with (imgpipe/backfill.py)
    event["detail"]["imgpipe"] = {"backfill": "r1", "notify": True, "services": ["resize"]}
    notifier.handle(event)
    results = [notifier.handle(e) for e in variant_events(CAT, "resize")]
    assert results[-1]["step"] == "email"
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.status == COMPLETED and stored.expected == ("resize",)


# --- a batch's producers' events, recorded together ---------------------------------------------


def _counting_writes(catalog: MemoryCatalog) -> list[int]:
    """Counts the catalog's event writes (one entry per write: how many reports it recorded)."""
    writes: list[int] = []
    record = catalog._record

    def counted(upload: Any, marks: Any, *args: Any) -> Any:
        writes.append(len(marks))
        return record(upload, marks, *args)

    catalog._record = counted  # type: ignore[method-assign]
    return writes


def test_a_batch_of_every_producers_event_is_one_write_and_one_email() -> None:
    parts = Parts()
    writes = _counting_writes(parts.catalog)
    notifier = parts.notifier()
    notifier.handle(upload_event(CAT))
    results = notifier.handle_together([e for p in sorted(PRODUCERS) for e in variant_events(CAT, p)])
    assert writes == [1, len(PRODUCERS)]
    assert [(r["step"], r["together"]) for r in results] == [("email", len(PRODUCERS))] * len(PRODUCERS)
    assert_one_ready_email(parts.sender)
    assert parts.metrics.counts["DuplicatesSuppressed"] == 0


def test_a_batch_holding_a_recorded_report_is_recorded_one_by_one_and_the_repeat_counted_once() -> None:
    parts = Parts()
    notifier = parts.notifier()
    [convert] = variant_events(CAT, "convert")
    notifier.handle(convert)
    writes = _counting_writes(parts.catalog)
    rest = [e for p in ("resize", "thumbnail") for e in variant_events(CAT, p)]
    results = notifier.handle_together([*rest, convert])
    # the shared write failed its condition (convert was there) and returned the round: the
    # new reports are recorded one by one, the repeat is not written again
    assert writes == [3, 1, 1]
    assert [r["fresh"] for r in results] == [True, True, False]
    assert parts.metrics.counts["DuplicatesSuppressed"] == 1
    assert_one_ready_email(parts.sender)


def test_a_batch_of_repeats_only_is_one_failed_write_and_changes_nothing() -> None:
    parts = Parts()
    notifier = parts.notifier()
    producers = [e for p in sorted(PRODUCERS) for e in variant_events(CAT, p)]
    notifier.handle_together(producers)
    writes = _counting_writes(parts.catalog)
    results = notifier.handle_together(producers)
    assert writes == [len(PRODUCERS)]
    assert {(r["fresh"], r["step"]) for r in results} == {(False, "nothing")}
    assert parts.metrics.counts["DuplicatesSuppressed"] == len(PRODUCERS)
    assert_one_ready_email(parts.sender)


def test_the_same_report_twice_in_one_batch_is_recorded_once() -> None:
    parts = Parts()
    notifier = parts.notifier()
    [resize] = variant_events(CAT, "resize")
    results = notifier.handle_together([resize, resize])
    assert [r["fresh"] for r in results] == [True, False]
    assert parts.metrics.counts["DuplicatesSuppressed"] == 1


def test_a_forged_event_in_a_batch_is_refused_and_the_others_recorded_together() -> None:
    parts = Parts()
    notifier = parts.notifier()
    writes = _counting_writes(parts.catalog)
    forged = {**variant_events(CAT, "resize")[0], "source": "imgpipe.elsewhere"}
    good = [e for p in ("convert", "thumbnail") for e in variant_events(CAT, p)]
    results = notifier.handle_together([forged, *good])
    assert [r["step"] for r in results] == ["forged", "wait", "wait"]
    assert writes == [2]
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.pending() == ["resize"]


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.integers(0, 3), max_size=8), st.integers(1, 4))
def test_any_batching_order_and_duplication_sends_exactly_one_email(
    rnd: random.Random, repeats: list[int], batch_size: int
) -> None:
    """As notify's queue may hand the events over: in batches of any size, any order, any
    repeats; each batch's upload event alone, then the rest together (imgpipe/batch.py)."""
    parts = Parts()
    notifier = parts.notifier()
    events = round_events(CAT)
    deliveries = events + [events[i] for i in repeats]
    rnd.shuffle(deliveries)
    for start in range(0, len(deliveries), batch_size):
        batch = deliveries[start : start + batch_size]
        uploads = [e for e in batch if e["detail-type"] == "Object Created"]
        for event in uploads:
            notifier.handle(event)
        rest = [e for e in batch if e["detail-type"] != "Object Created"]
        if rest:
            notifier.handle_together(rest)
    assert_one_ready_email(parts.sender)
    assert parts.metrics.counts["EmailsSent"] == 1
    assert parts.metrics.counts["DuplicatesSuppressed"] == len(repeats)
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.status == COMPLETED
