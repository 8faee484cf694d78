"""The catalog port's conditional writes, run against DynamoDB (moto) and the in-memory fake:
both must answer every case the same way, or the unit tests would prove nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from imgpipe.catalog import (
    COMPLETED,
    DONE,
    IGNORED,
    PARTIAL,
    PENDING,
    PROCESSING,
    SUPERSEDED,
    DynamoCatalog,
    RoundRef,
    UploadFacts,
)
from imgpipe.events import ImageRejected, Upload, VariantInfo, VariantsCreated
from imgpipe_tools.testing.memory_catalog import MemoryCatalog

NOW = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=1)
UP = Upload("uploads", "dir.with.dots/ü #1 +%20[x].jpg", "e1")
REF = RoundRef.of(UP)


def _variant(*names: str, upload: Upload = UP) -> VariantsCreated:
    # variant keys with '#', '.', spaces and unicode become attribute names: they must be safe
    infos = tuple(VariantInfo("resize", "variants", f"resize/{upload.key}/{n}", "webp", 10, 5, 99) for n in names)
    return VariantsCreated(upload, "resize", infos, "h")


def test_each_event_is_recorded_once(catalog: DynamoCatalog | MemoryCatalog) -> None:
    rejection = ImageRejected(UP, "thumbnail", "too_large", "big")
    first = catalog.record_rejection(rejection, expected=["resize", "thumbnail"], now=NOW)
    assert first.fresh and first.round.status == PROCESSING
    assert first.round.processor("resize").state == PENDING
    # one producer's event: every variant in one write, or (a repeat) none
    second = catalog.record_variants(_variant("a #1.webp", "b.v2.webp"), expected=["resize"], now=LATER)
    assert second.fresh
    assert not catalog.record_variants(_variant("a #1.webp", "b.v2.webp"), expected=["resize"], now=LATER).fresh
    r = second.round
    assert r.expected == ("resize", "thumbnail")  # fixed by the first event of the round
    assert r.first_seen_at == "2026-11-22T19:00:00.000000Z"
    assert r.processor("resize").state == DONE and r.pending() == []
    assert [v.key for v in r.processor("resize").variants] == [
        f"resize/{UP.key}/a #1.webp",
        f"resize/{UP.key}/b.v2.webp",
    ]
    assert not catalog.record_rejection(rejection, expected=[], now=LATER).fresh
    facts = UploadFacts("2026-11-22T18:59:00Z", 1234, "image/jpeg", None)
    recorded = catalog.record_upload(UP, facts, expected=[], now=LATER)
    assert recorded.fresh and (recorded.round.size, recorded.round.content_type) == (1234, "image/jpeg")
    assert not catalog.record_upload(UP, UploadFacts(size=1), expected=[], now=LATER).fresh
    assert catalog.load(REF).size == 1234  # type: ignore[union-attr]


def test_one_claim_wins_until_it_is_released_or_stale(catalog: DynamoCatalog | MemoryCatalog) -> None:
    catalog.record_variants(_variant("a"), expected=["resize"], now=NOW)
    fresh_only = NOW - timedelta(seconds=45)
    assert catalog.claim_email(REF, COMPLETED, token="t1", now=NOW, stale_before=fresh_only)
    assert not catalog.claim_email(REF, COMPLETED, token="t2", now=NOW, stale_before=fresh_only)
    assert not catalog.release_email(REF, token="t2", error="not mine", now=NOW)
    assert catalog.release_email(REF, token="t1", error="SNS down", now=NOW)
    assert catalog.claim_email(REF, PARTIAL, token="t3", now=NOW, stale_before=fresh_only)
    # t3's holder died before publishing; a minute later its claim is stale and taken over
    assert catalog.claim_email(REF, COMPLETED, token="t4", now=LATER, stale_before=LATER - timedelta(seconds=45))
    assert not catalog.confirm_email(REF, token="t3", message_id="m3", subject="s", now=LATER)
    assert catalog.confirm_email(REF, token="t4", message_id="m4", subject="ready", now=LATER)
    # confirmed: never claimed again, however old
    far = LATER + timedelta(days=1)
    assert not catalog.claim_email(REF, COMPLETED, token="t5", now=far, stale_before=far)
    assert not catalog.release_email(REF, token="t4", error="late", now=far)
    r = catalog.load(REF)
    assert r is not None and (r.status, r.email_message_id, r.email_subject) == (COMPLETED, "m4", "ready")
    assert not catalog.end_silently(REF, SUPERSEDED, now=far)


def test_a_silent_end_blocks_the_email_and_vice_versa(catalog: DynamoCatalog | MemoryCatalog) -> None:
    catalog.record_rejection(ImageRejected(UP, "resize", "superseded", "overwritten"), expected=["resize"], now=NOW)
    assert catalog.end_silently(REF, SUPERSEDED, now=NOW)
    assert not catalog.end_silently(REF, IGNORED, now=NOW)
    assert not catalog.claim_email(REF, COMPLETED, token="t", now=NOW, stale_before=NOW)
    assert catalog.load(REF).status == SUPERSEDED  # type: ignore[union-attr]
    # nothing is written for a round that does not exist
    ghost = RoundRef("uploads", "ghost.jpg", "e0")
    assert not catalog.claim_email(ghost, COMPLETED, token="t", now=NOW, stale_before=NOW)
    assert not catalog.end_silently(ghost, IGNORED, now=NOW)
    assert catalog.load(ghost) is None and catalog.latest("uploads", "ghost.jpg") is None


def test_rounds_of_a_key_and_the_latest(catalog: DynamoCatalog | MemoryCatalog) -> None:
    old, new = UP, Upload(UP.bucket, UP.key, "e2")
    other = Upload(UP.bucket, UP.key + ".png", "e1")  # a longer key must not share the rounds
    catalog.record_upload(old, UploadFacts("2026-11-22T10:00:00Z"), expected=["resize"], now=NOW)
    catalog.record_upload(new, UploadFacts("2026-11-22T11:00:00Z"), expected=["resize"], now=NOW)
    catalog.record_upload(other, UploadFacts("2026-11-22T12:00:00Z"), expected=["resize"], now=NOW)
    assert sorted(r.etag for r in catalog.rounds(UP.bucket, UP.key)) == ["e1", "e2"]
    latest = catalog.latest(UP.bucket, UP.key)
    assert latest is not None and latest["etag"] == "e2" and latest["uploaded_at"] == "2026-11-22T11:00:00Z"
    assert latest["processors"] == {
        "resize": {
            "state": PENDING,
            "expected": True,
            "variant_count": None,
            "variants": [],
            "reason": None,
            "message": None,
        }
    }
    assert catalog.get(UP.bucket, UP.key, "e1")["etag"] == "e1"  # type: ignore[index]
    assert catalog.get(UP.bucket, UP.key, "nope") is None
