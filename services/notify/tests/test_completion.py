"""notify's completion events: built from the round, one per round, the same id on every put."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from imgpipe.catalog import COMPLETED, PARTIAL, REJECTED, RejectionRecord, Round, RoundRef, VariantRecord
from imgpipe.events import COMPLETION_SOURCE, UPLOAD_COMPLETED, UPLOAD_PARTLY_COMPLETED, UPLOAD_REJECTED, Upload
from tests.notify_support import PRODUCERS, UPLOADS, etag_of, rejected_event, upload_event, variant_events

from ..completion import MAX_DETAIL_BYTES, Completion, completion_event, completion_id
from .test_notifier import CAT, Parts


@dataclass
class FakeBus:
    put: list[Completion] = field(default_factory=list)
    failures: int = 0  # how many of the next puts raise

    def __call__(self, completion: Completion) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("EventBridge unavailable")
        self.put.append(completion)


class Announcer:
    def __init__(self, bus: FakeBus) -> None:
        self.bus = bus

    def put(self, completion: Completion) -> None:
        self.bus(completion)


def _notifier(parts: Parts, bus: FakeBus) -> Any:
    return replace(parts.notifier(), announcer=Announcer(bus))


def _events(upload: Upload = CAT) -> list[dict[str, Any]]:
    return [upload_event(upload)] + [e for p in sorted(PRODUCERS) for e in variant_events(upload, p)]


def _round(parts: Parts, upload: Upload = CAT) -> Any:
    found = parts.catalog.load(RoundRef.of(upload))
    assert found is not None
    return found


def test_a_completed_round_is_announced_once_with_its_variants() -> None:
    parts, bus = Parts(), FakeBus()
    notifier = _notifier(parts, bus)
    deliveries = _events() * 3
    random.Random(7).shuffle(deliveries)
    for event in deliveries:
        notifier.handle(event)
    [completion] = bus.put
    assert completion.detail_type == UPLOAD_COMPLETED
    detail = completion.detail
    assert detail["id"] == completion_id(_round(parts)) and detail["id"].startswith("evt_")
    assert (detail["status"], detail["bucket"], detail["key"], detail["etag"]) == (
        COMPLETED,
        UPLOADS,
        CAT.key,
        CAT.etag,
    )
    assert detail["emailed"] is True and detail["rejections"] == [] and detail["reasons"] == []
    assert len(detail["variants"]) == sum(PRODUCERS.values())
    assert {v["processor"] for v in detail["variants"]} == set(PRODUCERS)
    assert detail["processors"] == dict.fromkeys(sorted(PRODUCERS), "done")
    assert detail["upload"]["size"] == 2345678
    assert "owner" not in detail and "descriptions" not in detail
    assert parts.metrics.counts["CompletionEventsPut"] == 1 and len(parts.sender.sent) == 1


def test_partial_and_rejected_rounds_name_their_reasons() -> None:
    parts, bus = Parts(), FakeBus()
    notifier = _notifier(parts, bus)
    partial = Upload(UPLOADS, "photos/big.jpg", etag_of("big"))
    notifier.handle(rejected_event(partial, "convert", "too_many_pixels", "12 MP > 10 MP"))
    for p in ("resize", "thumbnail"):
        for e in variant_events(partial, p):
            notifier.handle(e)
    text = Upload(UPLOADS, "users/u-1/up-1/cat.txt", etag_of("txt"))
    for p in sorted(PRODUCERS):
        notifier.handle(rejected_event(text, p, "unsupported_format", "not an image"))
    first, second = bus.put
    assert (first.detail_type, first.detail["status"]) == (UPLOAD_PARTLY_COMPLETED, PARTIAL)
    assert first.detail["reasons"] == ["too_many_pixels"]
    assert first.detail["rejections"] == [
        {"processor": "convert", "reason": "too_many_pixels", "message": "12 MP > 10 MP"}
    ]
    assert {v["processor"] for v in first.detail["variants"]} == {"resize", "thumbnail"}
    assert (second.detail_type, second.detail["status"]) == (UPLOAD_REJECTED, REJECTED)
    assert second.detail["variants"] == [] and second.detail["owner"] == "u-1"
    assert first.id != second.id


def test_a_failed_put_gives_the_claim_back_and_the_retry_puts_the_same_id() -> None:
    parts, bus = Parts(), FakeBus(failures=1)
    notifier = _notifier(parts, bus)
    events = _events()
    for event in events[:-1]:
        notifier.handle(event)
    with pytest.raises(ConnectionError):
        notifier.handle(events[-1])
    assert bus.put == [] and parts.sender.sent == []  # the email waits for the event
    notifier.handle(events[-1])  # Lambda's retry
    [completion] = bus.put
    assert len(parts.sender.sent) == 1 and completion.id == completion_id(_round(parts))


def test_a_failed_email_after_the_put_repeats_the_event_with_the_same_id() -> None:
    """The one window for a repeat: the event is out, the email is not; the retry puts both."""
    parts, bus = Parts(), FakeBus()
    notifier = _notifier(parts, bus)
    parts.sender.failures = 1
    events = _events()
    for event in events[:-1]:
        notifier.handle(event)
    with pytest.raises(ConnectionError):
        notifier.handle(events[-1])
    notifier.handle(events[-1])
    first, second = bus.put
    assert first.id == second.id and first.detail == second.detail
    assert len(parts.sender.sent) == 1


def test_a_silent_backfill_is_announced_without_an_email_and_only_once() -> None:
    parts, bus = Parts(), FakeBus()
    notifier = _notifier(parts, bus)
    backfill = upload_event(CAT)
    backfill["detail"]["reason"] = "Backfill"
    backfill["detail"]["imgpipe"] = {"backfill": "run-1", "notify": False}
    notifier.handle(backfill)
    producer_events = [e for p in sorted(PRODUCERS) for e in variant_events(CAT, p)]
    for event in producer_events + producer_events:  # every report twice
        notifier.handle(event)
    [completion] = bus.put
    assert completion.detail["emailed"] is False and completion.detail["status"] == COMPLETED
    assert parts.sender.sent == []


def test_a_failed_put_of_a_silent_round_leaves_it_open_for_the_retry() -> None:
    parts, bus = Parts(), FakeBus(failures=1)
    notifier = _notifier(parts, bus)
    backfill = upload_event(CAT)
    backfill["detail"]["imgpipe"] = {"backfill": "run-1", "notify": False}
    notifier.handle(backfill)
    producer_events = [e for p in sorted(PRODUCERS) for e in variant_events(CAT, p)]
    for event in producer_events[:-1]:
        notifier.handle(event)
    with pytest.raises(ConnectionError):
        notifier.handle(producer_events[-1])
    assert _round(parts).status == "processing"
    notifier.handle(producer_events[-1])
    [completion] = bus.put
    assert _round(parts).status == COMPLETED and completion.detail["emailed"] is False


def test_the_id_names_the_round_and_nothing_that_arrives_late() -> None:
    parts = Parts()
    notifier = parts.notifier()
    for event in _events():
        notifier.handle(event)
    r = _round(parts)
    same = completion_id(r)
    # the upload event and its version id may arrive after the round ended: the id stays
    assert completion_id(replace(r, uploaded_at=None, version_id="v2", size=None)) == same
    assert completion_id(replace(r, etag=etag_of("other bytes"))) != same
    assert completion_id(replace(r, key="photos/dog.jpg")) != same
    # the same bytes uploaded again after a delete reopen the round: a new round, a new id
    assert completion_id(replace(r, reopened_at="2026-11-23T10:00:00.000000Z")) != same
    assert completion_event(r, COMPLETED, emailed=True).detail == completion_event(r, COMPLETED, emailed=True).detail


def test_descriptions_in_the_round_travel_with_the_event() -> None:
    parts = Parts()
    notifier = parts.notifier()
    for event in _events():
        notifier.handle(event)
    r = _round(parts)
    facts = {"thumbhash": "1QcSHQRnh493V4dIh4eXh1h4kJUI", "width": 4032, "height": 3024}
    described = replace(r, **{"descriptions": {"describe": facts}}) if hasattr(r, "descriptions") else r
    detail = completion_event(described, COMPLETED, emailed=True).detail
    if hasattr(r, "descriptions"):
        assert detail["descriptions"] == {"describe": facts}
    else:
        assert "descriptions" not in detail


# --- the examples of docs/events.md are these rounds' events ---------------------------------------
FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "events" / "completions"
_ENVELOPE = {
    "version": "0",
    "id": "9d3c7a51-2b6e-4f0a-8c1d-5e7f9a0b1c2d",
    "source": COMPLETION_SOURCE,
    "account": "123456789012",
    "time": "2026-11-22T18:43:55Z",
    "region": "us-east-1",
    "resources": [],
}


def _variant(processor: str, key: str, fmt: str, width: int, height: int, size: int, count: int) -> VariantRecord:
    # each processor's declared role (its manifest), as its events carry it
    role = {"resize": "responsive", "thumbnail": "preview", "convert": "full"}.get(processor, "facts")
    return VariantRecord(processor, "imgpipe-variants", key, fmt, width, height, size, count, role=role)


def doc_rounds() -> dict[str, tuple[Round, str, bool]]:
    """The rounds behind the documented events: (round, status, emailed) by fixture name."""
    key = "users/7f3e9a2c/01JD8Q5ZK3/cat.jpg"
    upload = {
        "bucket": UPLOADS,
        "etag": "3858f62230ac3c915f300c664312c63f",
        "status": COMPLETED,
        "uploaded_at": "2026-11-22T18:43:48Z",
        "size": 2345678,
        "content_type": "image/jpeg",
        "format": "jpeg",
        "width": 4032,
        "height": 3024,
    }
    completed = Round(
        key=key,
        expected=("convert", "resize", "thumbnail"),
        variants=(
            _variant("convert", f"convert/{key}/full.avif", "avif", 4032, 3024, 1209344, 2),
            _variant("convert", f"convert/{key}/full.webp", "webp", 4032, 3024, 1530112, 2),
            _variant("resize", f"resize/{key}/320w.webp", "webp", 320, 240, 18211, 2),
            _variant("resize", f"resize/{key}/1280w.webp", "webp", 1280, 960, 141872, 2),
            _variant("thumbnail", f"thumbnail/{key}/300x300.webp", "webp", 300, 300, 14210, 1),
        ),
        **upload,
    )
    partial = Round(
        key="photos/pano.jpg",
        expected=("convert", "resize", "thumbnail"),
        variants=(
            _variant("resize", "resize/photos/pano.jpg/320w.webp", "webp", 320, 80, 9120, 1),
            _variant("thumbnail", "thumbnail/photos/pano.jpg/300x300.webp", "webp", 300, 300, 15003, 1),
        ),
        rejections=(
            RejectionRecord("convert", "too_many_pixels", "12000x3000 is 36,000,000 pixels; the limit is 30,000,000"),
        ),
        notify=False,
        **{**upload, "etag": "b1946ac92492d2347c6235b4d2611184", "status": PARTIAL, "width": 12000, "height": 3000},
    )
    return {"upload_completed": (completed, COMPLETED, True), "upload_partly_completed": (partial, PARTIAL, False)}


def doc_event(name: str) -> dict[str, Any]:
    r, status, emailed = doc_rounds()[name]
    completion = completion_event(r, status, emailed=emailed)
    envelope = {"version": "0", "id": _ENVELOPE["id"], "detail-type": completion.detail_type, **_ENVELOPE}
    return {**envelope, "detail": dict(completion.detail)}


@pytest.mark.parametrize("name", ["upload_completed", "upload_partly_completed"])
def test_the_documented_events_are_what_notify_builds(name: str) -> None:
    shown = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    assert shown == doc_event(name)


def test_with_the_front_door_each_variant_carries_its_cdn_url() -> None:
    r, status, emailed = doc_rounds()["upload_completed"]
    plain = completion_event(r, status, emailed=emailed)
    served = completion_event(r, status, emailed=emailed, delivery_url="https://d111.cloudfront.net/")
    assert all("url" not in v for v in plain.detail["variants"])
    first = served.detail["variants"][0]
    assert first["url"] == f"https://d111.cloudfront.net/v/{first['key']}?v={r.etag}"
    assert served.id == plain.id


def test_an_event_too_large_for_eventbridge_is_trimmed_and_says_so() -> None:
    r, status, emailed = doc_rounds()["upload_completed"]
    many = tuple(
        _variant("resize", f"resize/{r.key}/{'x' * 900}-{i}w.webp", "webp", i, i, i, 400) for i in range(1, 401)
    )
    huge = replace(r, expected=("resize",), variants=many)
    detail = completion_event(huge, COMPLETED, emailed=True).detail
    assert len(json.dumps(detail, separators=(",", ":")).encode()) <= MAX_DETAIL_BYTES
    assert detail["truncated"] is True and 0 < len(detail["variants"]) < 400
    assert "truncated" not in completion_event(r, status, emailed=emailed).detail
