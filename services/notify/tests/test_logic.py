"""notify's pure state machine and email rendering (no AWS, no catalog)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imgpipe.catalog import (
    COMPLETED,
    DONE,
    FAILED,
    IGNORED,
    PARTIAL,
    PENDING,
    PROCESSING,
    REJECTED,
    SUPERSEDED,
    RejectionRecord,
    Round,
    VariantRecord,
    latest_of,
)
from imgpipe.manifest import load_manifest
from imgpipe.registry import parse_settings

from ..logic import EMAIL, END, NOTHING, ROOT_PREFIX, WAIT, key_prefix, next_step, render_email

#: this service's folder (the tests live inside it)
FOLDER = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 22, 19, 0, tzinfo=UTC)


def _variant(processor: str, name: str, count: int, key: str = "photos/cat.jpg") -> VariantRecord:
    return VariantRecord(processor, "variants", f"{processor}/{key}/{name}", "webp", 640, 480, 12345, count)


def _round(**kw: object) -> Round:
    base: dict[str, object] = {"bucket": "uploads", "key": "photos/cat.jpg", "etag": "e1", "expected": ("a", "b")}
    return Round(**{**base, **kw})  # type: ignore[arg-type]


def _link(bucket: str, key: str) -> str:
    return f"https://{bucket}.example/{key}?sig=1"


def test_processor_is_done_once_it_has_as_many_distinct_variants_as_it_announced() -> None:
    one = _round(variants=(_variant("a", "1.webp", 2),))
    assert one.processor("a").state == PENDING
    two = _round(variants=(_variant("a", "1.webp", 2), _variant("a", "2.webp", 2)))
    assert two.processor("a").state == DONE
    assert [v.key for v in two.processor("a").variants] == ["a/photos/cat.jpg/1.webp", "a/photos/cat.jpg/2.webp"]
    assert two.pending() == ["b"]


def test_rejected_processor_and_late_superseded_replay_of_a_finished_one() -> None:
    r = _round(
        variants=(_variant("a", "1.webp", 1),),
        rejections=(RejectionRecord("a", "superseded", "late"), RejectionRecord("b", "corrupt_image", "bad")),
    )
    assert r.processor("a").state == DONE  # variants win over a later rejection
    assert r.processor("b").state == FAILED
    assert r.processor("b").rejection == RejectionRecord("b", "corrupt_image", "bad")


@pytest.mark.parametrize(
    ("variants", "rejections", "kind", "status"),
    [
        ((), (), WAIT, PROCESSING),
        ((_variant("a", "1", 1),), (), WAIT, PROCESSING),
        ((_variant("a", "1", 1), _variant("b", "1", 1)), (), EMAIL, COMPLETED),
        ((_variant("a", "1", 1),), (RejectionRecord("b", "too_large", "m"),), EMAIL, PARTIAL),
        ((), (RejectionRecord("a", "too_large", "m"), RejectionRecord("b", "corrupt_image", "m")), EMAIL, REJECTED),
        ((_variant("a", "1", 1),), (RejectionRecord("b", "superseded", "m"),), END, SUPERSEDED),
    ],
)
def test_next_step(variants: tuple, rejections: tuple, kind: str, status: str) -> None:
    step = next_step(_round(variants=variants, rejections=rejections))
    assert (step.kind, step.status) == (kind, status)


def test_a_round_that_ended_or_emailed_needs_nothing_more() -> None:
    done = (_variant("a", "1", 1), _variant("b", "1", 1))
    assert next_step(_round(variants=done, status=COMPLETED, email_message_id="m-1")).kind == NOTHING
    assert next_step(_round(status=SUPERSEDED)).kind == NOTHING
    # claimed but not confirmed: still owes its email (the claim may be released or stale)
    assert next_step(_round(variants=done, status=COMPLETED, email_sent_at="t")).kind == EMAIL


def test_a_key_no_producer_handles_ends_without_email() -> None:
    assert (next_step(_round(expected=())).kind, next_step(_round(expected=())).status) == (END, IGNORED)


@pytest.mark.parametrize(
    ("key", "prefix"),
    [("photos/cat.jpg", "photos"), ("cat.jpg", ROOT_PREFIX), ("/odd.jpg", ROOT_PREFIX), ("a/b/c.png", "a")],
)
def test_key_prefix(key: str, prefix: str) -> None:
    assert key_prefix(key) == prefix


def test_completed_email_lists_every_variant_with_uri_link_and_size() -> None:
    variants = (*(_variant("a", f"{w}w.webp", 3) for w in (320, 640, 1280)), _variant("b", "sq.webp", 1))
    r = _round(variants=variants, size=2345678, uploaded_at="2026-11-22T18:43:48Z", content_type="image/jpeg")
    email = render_email(r, COMPLETED, link=_link, link_expiry_s=86400, now=NOW)
    assert email.subject == "imgpipe: photos/cat.jpg is ready (4 variants)"
    for v in variants:
        link = _link("variants", v.key)
        block = f"  {v.key}\n    webp, 640x480, 12,345 bytes\n    s3://variants/{v.key}\n    {link}\n"
        assert block in email.body
    assert "s3://uploads/photos/cat.jpg" in email.body
    positions = [email.body.index(f"a/photos/cat.jpg/{w}w.webp") for w in (320, 640, 1280)]
    assert positions == sorted(positions)  # natural order: 320w before 1280w
    assert "2,345,678 bytes; image/jpeg; uploaded 2026-11-22T18:43:48Z" in email.body
    assert "expire after 1 day (at 2026-11-23 19:00 UTC)" in email.body
    assert email.attributes == {"status": "completed", "prefix": "photos", "key": "photos/cat.jpg"}


def test_rejected_email_names_every_reason_and_message() -> None:
    r = _round(
        key="photos/cat.txt",
        rejections=(
            RejectionRecord("a", "unsupported_format", "not an image: text"),
            RejectionRecord("b", "unsupported_format", "not an image either"),
        ),
    )
    email = render_email(r, REJECTED, link=_link, link_expiry_s=60, now=NOW)
    assert email.subject == "imgpipe: photos/cat.txt was rejected (unsupported_format)"
    assert "a: rejected (unsupported_format)\n  not an image: text" in email.body
    assert "b: rejected (unsupported_format)\n  not an image either" in email.body
    assert "https://" not in email.body and "expire" not in email.body
    assert email.attributes == {
        "status": "rejected",
        "prefix": "photos",
        "key": "photos/cat.txt",
        "processor": ["a", "b"],
        "reason": ["unsupported_format"],
    }


def test_partial_email_has_variants_and_the_rejection() -> None:
    r = _round(
        key="anim.gif",
        variants=(_variant("a", "1.webp", 1, key="anim.gif"),),
        rejections=(RejectionRecord("b", "too_many_frames", "400 frames; the limit is 300"),),
    )
    email = render_email(r, PARTIAL, link=_link, link_expiry_s=3600, now=NOW)
    assert email.subject == "imgpipe: anim.gif is partly ready (1 variant; rejected: too_many_frames)"
    assert "a/anim.gif/1.webp" in email.body and "400 frames; the limit is 300" in email.body
    assert email.attributes["processor"] == ["b"] and email.attributes["prefix"] == ROOT_PREFIX


def test_subject_is_ascii_single_line_and_under_100_characters() -> None:
    key = "fotos/" + "é" * 40 + "\n" + "ü" * 200 + "/貓.jpg"
    r = _round(key=key, variants=(_variant("a", "1", 1, key), _variant("b", "1", 1, key)))
    subject = render_email(r, COMPLETED, link=_link, link_expiry_s=60, now=NOW).subject
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject
    assert subject.startswith("imgpipe: fotos/eeee") and subject.endswith("?.jpg is ready (2 variants)")
    assert "..." in subject


def test_latest_prefers_a_live_round_then_the_newest_upload() -> None:
    old = _round(etag="old", uploaded_at="2026-11-22T10:00:00Z")
    new = _round(etag="new", uploaded_at="2026-11-22T11:00:00Z")
    assert latest_of([old, new]) == new
    assert latest_of([old, Round("uploads", "photos/cat.jpg", "x", status=SUPERSEDED, first_seen_at="2030")]) == old
    assert latest_of([]) is None


def test_claim_timeout_setting_outlives_the_function_and_precedes_its_first_retry() -> None:
    manifest = load_manifest(FOLDER)
    settings = parse_settings(manifest)
    assert manifest.timeout_s < settings.email_claim_timeout_s < 60
    assert settings.email_claim_wait_s < manifest.timeout_s


def test_describes_facts_are_not_counted_as_variants() -> None:
    from imgpipe.catalog import COMPLETED, Round, VariantRecord

    from ..logic import subject_for

    def variant(processor: str, name: str, fmt: str) -> VariantRecord:
        return VariantRecord(processor, "variants", f"{processor}/cat.jpg/{name}", fmt, 64, 48, 100, 1)

    r = Round(
        bucket="uploads",
        key="cat.jpg",
        etag="e1",
        status=COMPLETED,
        expected=("describe", "thumbnail"),
        variants=(variant("thumbnail", "200x200.jpg", "jpeg"), variant("describe", "description.json", "json")),
    )
    assert subject_for(r, COMPLETED) == "imgpipe: cat.jpg is ready (1 variant)"
    body = render_email(r, COMPLETED, link=lambda b, k: f"https://x/{k}", link_expiry_s=60, now=datetime.now(UTC)).body
    assert "describe: facts about the upload" in body and "thumbnail: 1 variant" in body
