"""notify and a backfill without --notify: the round is recorded and ends without an email."""

from __future__ import annotations

import random
from typing import Any

import pytest

from imgpipe.catalog import COMPLETED, PARTIAL, RoundRef
from tests.notify_support import PRODUCERS, rejected_event, upload_event, variant_events

from .test_notifier import CAT, Parts


def _backfill_upload(notify: bool) -> dict[str, Any]:
    event = upload_event(CAT)
    event["detail"]["reason"] = "Backfill"
    event["detail"]["imgpipe"] = {"backfill": "run-1", "notify": notify}
    return event


def _producer_events() -> list[dict[str, Any]]:
    return [e for p in sorted(PRODUCERS) for e in variant_events(CAT, p)]


@pytest.mark.parametrize("seed", range(5))
def test_a_silent_backfill_fills_the_catalog_and_sends_nothing(seed: int) -> None:
    parts = Parts()
    notifier = parts.notifier()
    notifier.handle(_backfill_upload(notify=False))  # the backfill tells notify first
    events = _producer_events()
    random.Random(seed).shuffle(events)
    results = [notifier.handle(e) for e in events + events[:3]]  # replays too
    assert parts.sender.sent == []
    assert parts.metrics.counts["EmailsSent"] == 0
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None
    assert stored.status == COMPLETED and stored.email_message_id is None and stored.email_sent_at is None
    assert len(stored.variants) == sum(PRODUCERS.values())
    # the round's email state ends once: nothing waits for an email that will not come
    assert [r["step"] for r in results].count("end") >= 1
    assert results[-1]["step"] in ("end", "nothing")
    assert stored.as_dict()["email"]["skipped"] == "backfill without --notify"


def test_a_silent_backfill_of_a_rejected_file_ends_partial_without_email() -> None:
    parts = Parts()
    notifier = parts.notifier()
    notifier.handle(_backfill_upload(notify=False))
    for e in variant_events(CAT, "convert") + variant_events(CAT, "resize"):
        notifier.handle(e)
    notifier.handle(rejected_event(CAT, "thumbnail", "unsupported_format"))
    assert parts.sender.sent == []
    stored = parts.catalog.load(RoundRef.of(CAT))
    assert stored is not None and stored.status == PARTIAL


def test_a_backfill_with_notify_sends_the_one_email() -> None:
    parts = Parts()
    notifier = parts.notifier()
    for e in [_backfill_upload(notify=True), *_producer_events()]:
        notifier.handle(e)
    assert len(parts.sender.sent) == 1


def test_a_real_upload_round_emails_even_when_a_silent_backfill_replays_it() -> None:
    """The upload event came first (a live upload): a later silent backfill changes nothing."""
    parts = Parts()
    notifier = parts.notifier()
    for e in [upload_event(CAT), *_producer_events()]:
        notifier.handle(e)
    notifier.handle(_backfill_upload(notify=False))
    assert len(parts.sender.sent) == 1
