"""The review decision on both catalogs (DynamoDB under moto, and the in-memory one the unit
tests use), with the same conditions: kept with its time, refused on a deleted round, final once
rejected, and reset by nothing else an event writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from imgpipe.catalog import APPROVED, REJECTED, DynamoCatalog, RoundRef
from imgpipe.events import Upload, VariantInfo, VariantsCreated
from imgpipe_tools.testing.memory_catalog import MemoryCatalog

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
UP = Upload("uploads", "photos/cat.jpg", "e1")
REF = RoundRef.of(UP)


def _record(
    catalog: DynamoCatalog | MemoryCatalog, name: str, facts: dict[str, object] | None = None, *, hold: bool = False
) -> None:
    fmt = "json" if facts else "jpeg"
    info = VariantInfo(name, "variants", f"{name}/{UP.key}/x.{fmt}", fmt, 10, 10, 1)
    catalog.record_variants(
        VariantsCreated(UP, info.processor, (info,), "h", facts, hold=hold),
        expected=["moderate", "resize"],
        now=NOW,
    )


def _item(catalog: DynamoCatalog | MemoryCatalog) -> dict[str, Any]:
    """The round's stored item, as plain values."""
    if isinstance(catalog, MemoryCatalog):
        return dict(catalog.items[(REF.item_key["pk"], REF.item_key["sk"])])
    found = catalog.client.get_item(TableName=catalog.table, Key={k: {"S": v} for k, v in REF.item_key.items()})
    return catalog._plain(found["Item"])


def test_hold_and_facts_are_attributes_of_their_own(catalog: DynamoCatalog | MemoryCatalog) -> None:
    facts = {"held": True, "held_by": ["Violence"], "labels": []}
    _record(catalog, "moderate", facts, hold=True)
    item = _item(catalog)
    # the round's own state: not a key inside a variant's record
    assert set(item["h#moderate"]) == {"at"} and json.loads(item["f#moderate"]["facts"]) == facts
    assert not any("description" in v for n, v in item.items() if n.startswith("v#"))
    r = catalog.load(REF)
    assert r is not None and r.holds == ("moderate",) and r.held and r.descriptions == {"moderate": facts}
    catalog.mark_deleted(UP.bucket, UP.key, now=NOW)  # a deletion forgets them with the variants
    assert not any(n.startswith(("f#", "h#", "v#")) for n in _item(catalog))


def test_facts_that_say_held_do_not_hold_a_round_the_event_did_not(catalog: DynamoCatalog | MemoryCatalog) -> None:
    # held is what the event said, kept as the round's state; the free-form facts decide nothing
    _record(catalog, "describe", {"held": True, "palette": []})
    r = catalog.load(REF)
    assert r is not None and not r.held and r.holds == () and r.descriptions["describe"]["held"] is True
    _record(catalog, "moderate", {"labels": []}, hold=True)
    r = catalog.load(REF)
    assert r is not None and r.held and r.held_by == ["moderate"]


def test_a_round_written_before_holds_were_attributes_still_reads_held(
    catalog: DynamoCatalog | MemoryCatalog,
) -> None:
    # an older notify kept the facts (and with them "held") inside the variant's record
    legacy = {
        **REF.item_key,
        "bucket": UP.bucket,
        "key": UP.key,
        "etag": UP.etag,
        "status": "completed",
        "expected": ["moderate"],
        f"v#moderate#moderate/{UP.key}/moderation.json": {
            "bucket": "variants",
            "format": "json",
            "width": 10,
            "height": 10,
            "bytes": 1,
            "variant_count": 1,
            "description": json.dumps({"held": True, "held_by": ["Violence"]}),
        },
    }
    if isinstance(catalog, MemoryCatalog):
        catalog.items[(REF.item_key["pk"], REF.item_key["sk"])] = legacy
    else:
        catalog.client.put_item(TableName=catalog.table, Item={k: catalog._av(v) for k, v in legacy.items()})
    r = catalog.load(REF)
    assert r is not None and r.held and r.held_by == ["moderate"] and r.shown_status == "held"
    assert r.descriptions["moderate"]["held_by"] == ["Violence"]
    assert catalog.record_review(REF, APPROVED, now=NOW) and (r := catalog.load(REF)) is not None and not r.held


def test_a_decision_is_kept_and_a_rejection_is_final(catalog: DynamoCatalog | MemoryCatalog) -> None:
    assert catalog.record_review(REF, APPROVED, now=NOW) is False  # no such round
    _record(catalog, "moderate", {"held": True, "held_by": ["Violence"]}, hold=True)
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
    _record(catalog, "moderate", {"held": True}, hold=True)
    catalog.mark_deleted(UP.bucket, UP.key, now=NOW)
    assert catalog.record_review(REF, APPROVED, now=NOW) is False
    with pytest.raises(ValueError):
        catalog.record_review(REF, "later", now=NOW)
