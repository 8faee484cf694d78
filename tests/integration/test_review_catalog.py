"""The review decision on both catalogs (DynamoDB under moto, and the in-memory one the unit
tests use), with the same conditions: kept with its time, refused on a deleted round, final once
rejected, and reset by nothing else an event writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from imgpipe.catalog import APPROVED, REJECTED, DynamoCatalog, RoundRef
from imgpipe.events import Upload, VariantInfo, VariantsCreated
from imgpipe_tools.testing.memory_catalog import MemoryCatalog

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
UP = Upload("uploads", "photos/cat.jpg", "e1")
REF = RoundRef.of(UP)


def _record(catalog: DynamoCatalog | MemoryCatalog, name: str, facts: dict[str, object] | None = None) -> None:
    fmt = "json" if facts else "jpeg"
    info = VariantInfo(name, "variants", f"{name}/{UP.key}/x.{fmt}", fmt, 10, 10, 1)
    catalog.record_variants(
        VariantsCreated(UP, info.processor, (info,), "h", facts), expected=["moderate", "resize"], now=NOW
    )


def test_a_decision_is_kept_and_a_rejection_is_final(catalog: DynamoCatalog | MemoryCatalog) -> None:
    assert catalog.record_review(REF, APPROVED, now=NOW) is False  # no such round
    _record(catalog, "moderate", {"held": True, "held_by": ["Violence"]})
    r = catalog.load(REF)
    assert r is not None and r.held and r.shown_status == "held"
    assert catalog.record_review(REF, APPROVED, now=NOW) is True
    r = catalog.load(REF)
    assert r is not None and r.review == APPROVED and r.reviewed_at and not r.held
    _record(catalog, "resize")  # a later event keeps the decision
    assert (r := catalog.load(REF)) is not None and r.review == APPROVED
    assert catalog.record_review(REF, REJECTED, now=NOW) is True
    assert catalog.record_review(REF, APPROVED, now=NOW) is False
    r = catalog.load(REF)
    assert r is not None and r.review == REJECTED and r.held and r.as_dict()["status"] == "rejected"


def test_a_deleted_round_takes_no_decision(catalog: DynamoCatalog | MemoryCatalog) -> None:
    _record(catalog, "moderate", {"held": True})
    catalog.mark_deleted(UP.bucket, UP.key, now=NOW)
    assert catalog.record_review(REF, APPROVED, now=NOW) is False
    with pytest.raises(ValueError):
        catalog.record_review(REF, "later", now=NOW)
