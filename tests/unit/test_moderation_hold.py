"""An upload moderate holds for review (docs/moderation.md): the catalog's view and the API's
status offer no variant and say ``held``, the email says it is held with no link, the completion
event carries no variant; ``review approve`` releases it, ``review reject`` deletes its variants
and the round reads ``rejected``. On the in-memory catalog and fake storage."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from imgpipe.catalog import APPROVED, COMPLETED, REJECTED, RoundRef
from imgpipe.events import Upload, VariantInfo, VariantsCreated
from imgpipe.outputs import Audience, Outputs, OutputsView, Role
from imgpipe_tools.review import ReviewError, delete_variants, review
from imgpipe_tools.testing.fakes import FakeStorage
from imgpipe_tools.testing.memory_catalog import MemoryCatalog
from services.api.listing import summary_view
from services.api.status import status_view
from services.notify.completion import completion_event
from services.notify.logic import render_email

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
UPLOADS, VARIANTS = "uploads", "variants"
KEY = "users/u1/abc/cat.jpg"
EXPECTED = ["moderate", "resize"]
HELD_FACTS = {
    "engine": "rekognition",
    "model_version": "7.0",
    "labels": [{"name": "Violence", "confidence": 97.2, "parent": "", "level": 1}],
    "held_by": ["Violence"],
    "held": True,
    "width": 1200,
    "height": 800,
}
#: what the API is told of the deployed producers (imgpipe.outputs.outputs_spec)
OUTPUTS = OutputsView(
    {"resize": Outputs(Role.RESPONSIVE), "moderate": Outputs(Role.FACTS, Audience.REVIEWER)}, srcset="resize"
)


def _variant(upload: Upload, processor: str, name: str, fmt: str, facts: dict[str, object] | None) -> VariantsCreated:
    ext = "json" if fmt == "json" else "jpg"
    role = "facts" if fmt == "json" else "responsive"
    info = VariantInfo(processor, VARIANTS, f"{processor}/{upload.key}/{name}.{ext}", fmt, 640, 427, 1000, role=role)
    # the verdict is the event's own field, as moderate sends it (its facts say it for people)
    return VariantsCreated(upload, info.processor, (info,), "h", facts, hold=bool(facts and facts.get("held")))


def _catalog(facts: dict[str, object], key: str = KEY) -> tuple[MemoryCatalog, FakeStorage, RoundRef]:
    catalog, storage = MemoryCatalog(), FakeStorage()
    upload = Upload(UPLOADS, key, "e1")
    for event in (
        _variant(upload, "resize", "640w", "jpeg", None),
        _variant(upload, "moderate", "moderation", "json", facts),
    ):
        catalog.record_variants(event, expected=EXPECTED, now=NOW)
        storage.put(VARIANTS, event.variants[0].key, b"x", content_type="image/jpeg", metadata={})
    storage.put(VARIANTS, f"resize/{key}/nested/other.jpg", b"y", content_type="image/jpeg", metadata={})
    return catalog, storage, RoundRef(UPLOADS, key, "e1")


def _email(catalog: MemoryCatalog, ref: RoundRef) -> str:
    r = catalog.load(ref)
    assert r is not None
    email = render_email(r, COMPLETED, link=lambda b, k: f"https://cdn.example/v/{k}", link_expiry_s=None, now=NOW)
    return email.subject + "\n" + email.body


def test_a_held_round_offers_no_variant_and_says_held() -> None:
    catalog, _, ref = _catalog(HELD_FACTS)
    r = catalog.load(ref)
    assert r is not None and r.held and r.held_by == ["moderate"]
    view = r.as_dict()
    assert view["status"] == "held" and view["held_by"] == ["moderate"]
    assert all(p["variants"] == [] for p in view["processors"].values())
    assert view["processors"]["moderate"]["description"]["held_by"] == ["Violence"]
    api = status_view("abc", KEY, r, delivery_url="https://cdn.example", outputs=OUTPUTS)
    assert api.status == "held" and api.variants == [] and api.srcset is None and api.picture is None
    # the uploader learns the verdict in plain words, never the labels, scores or threshold
    assert api.description == {} and api.held_reason and "Violence" not in json.dumps(dataclasses.asdict(api))
    assert summary_view(r).status == "held" and summary_view(r).variants == 0


def test_the_email_of_a_held_upload_says_held_with_no_link() -> None:
    catalog, _, ref = _catalog(HELD_FACTS)
    text = _email(catalog, ref)
    assert "is held for review" in text.splitlines()[0]
    assert "held for review: its variants are not offered until it is approved" in text
    assert "moderate: held (Violence)" in text
    assert "https://" not in text and "640w" not in text


def test_the_completion_event_of_a_held_round_carries_no_variant() -> None:
    catalog, _, ref = _catalog(HELD_FACTS)
    r = catalog.load(ref)
    assert r is not None
    detail = completion_event(r, COMPLETED, emailed=True, delivery_url="https://cdn.example").detail
    assert detail["held"] is True and detail["variants"] == []


def test_a_round_not_held_is_as_before() -> None:
    catalog, _, ref = _catalog({**HELD_FACTS, "held": False, "held_by": []})
    r = catalog.load(ref)
    assert r is not None and not r.held and r.as_dict()["status"] == "processing"
    assert r.as_dict()["processors"]["resize"]["variants"]
    assert status_view("abc", KEY, r, delivery_url="https://cdn.example", outputs=OUTPUTS).srcset
    assert "is held" not in _email(catalog, ref)


def test_approve_releases_the_variants() -> None:
    catalog, storage, ref = _catalog(HELD_FACTS)
    done = review(catalog, storage, bucket=UPLOADS, variants_bucket=VARIANTS, key=KEY, decision=APPROVED, now=NOW)
    assert done.decision == APPROVED and done.variants_deleted == 0
    r = catalog.load(ref)
    assert r is not None and not r.held and r.review == APPROVED
    view = r.as_dict()
    assert view["status"] != "held" and view["review"] == {"decision": APPROVED, "at": "2026-12-02T01:00:00.000000Z"}
    assert [v["key"] for v in view["processors"]["resize"]["variants"]] == [f"resize/{KEY}/640w.jpg"]
    api = status_view("abc", KEY, r, delivery_url="https://cdn.example", outputs=OUTPUTS)
    assert [v.name for v in api.variants] == ["640w.jpg"] and api.srcset
    assert (VARIANTS, f"resize/{KEY}/640w.jpg") in storage.objects


def test_reject_deletes_the_variants_and_the_round_reads_rejected() -> None:
    catalog, storage, ref = _catalog(HELD_FACTS)
    done = review(catalog, storage, bucket=UPLOADS, variants_bucket=VARIANTS, key=KEY, decision=REJECTED, now=NOW)
    assert done.variants_deleted == 2  # resize's 640w and moderate's facts document
    assert (VARIANTS, f"resize/{KEY}/640w.jpg") not in storage.objects
    assert (VARIANTS, f"resize/{KEY}/nested/other.jpg") in storage.objects  # another upload's
    r = catalog.load(ref)
    assert r is not None and r.review == REJECTED and r.held
    assert r.as_dict()["status"] == "rejected" and r.as_dict()["processors"]["resize"]["variants"] == []
    assert status_view("abc", KEY, r, delivery_url="https://cdn.example", outputs=OUTPUTS).status == "rejected"
    # rejecting again is harmless; approving a rejected upload is refused (its variants are gone)
    again = review(catalog, storage, bucket=UPLOADS, variants_bucket=VARIANTS, key=KEY, decision=REJECTED, now=NOW)
    assert again.variants_deleted == 0
    with pytest.raises(ReviewError, match="rejected"):
        review(catalog, storage, bucket=UPLOADS, variants_bucket=VARIANTS, key=KEY, decision=APPROVED, now=NOW)


def test_review_refuses_an_upload_that_is_not_held_or_unknown() -> None:
    catalog, storage, _ = _catalog({**HELD_FACTS, "held": False})
    with pytest.raises(ReviewError, match="not held"):
        review(catalog, storage, bucket=UPLOADS, variants_bucket=VARIANTS, key=KEY, decision=REJECTED, now=NOW)
    assert (VARIANTS, f"resize/{KEY}/640w.jpg") in storage.objects
    with pytest.raises(ReviewError, match="no record"):
        review(catalog, storage, bucket=UPLOADS, variants_bucket=VARIANTS, key="nope.jpg", decision=APPROVED, now=NOW)


def test_the_catalog_refuses_a_decision_on_a_deleted_round() -> None:
    catalog, _, ref = _catalog(HELD_FACTS)
    catalog.mark_deleted(UPLOADS, KEY, now=NOW)
    assert catalog.record_review(ref, APPROVED, now=NOW) is False
    with pytest.raises(ValueError):
        catalog.record_review(ref, "maybe", now=NOW)


def test_delete_variants_skips_folders_that_are_not_producers() -> None:
    storage = FakeStorage()
    for key in (f"resize/{KEY}/a.jpg", f"_backfill/{KEY}/a.json", "top.jpg"):
        storage.put(VARIANTS, key, b"x", content_type="image/jpeg", metadata={})
    assert delete_variants(storage, VARIANTS, KEY) == 1
    assert json.dumps(sorted(k for _, k in storage.objects)) == json.dumps([f"_backfill/{KEY}/a.json", "top.jpg"])


def test_the_cli_parses_both_decisions() -> None:
    from imgpipe_tools.cli import build_parser, cmd_review

    for word, decision in (("approve", APPROVED), ("reject", REJECTED)):
        args = build_parser().parse_args(["review", word, "photos/a b.jpg", "--etag", "e1", "--local"])
        assert (args.func, args.decision, args.key, args.etag, args.local) == (
            cmd_review,
            decision,
            "photos/a b.jpg",
            "e1",
            True,
        )
