"""notify believes only its own stack: forged events are counted and logged, and change nothing.

Each forged event below is one a principal of the account could put on the bus (or a second
imgpipe stack in the same account would send). None may write to the catalog, send an email or
raise (a raise would be retried, then parked in a DLQ); each is counted by reason.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from imgpipe.catalog import RoundRef
from imgpipe.events import BACKFILL_SOURCE, Upload, VariantInfo, VariantsCreated, to_entry
from imgpipe.keys import DONE_RECORD, variant_key, variant_prefix
from imgpipe.signing import signed
from imgpipe_tools.testing.fakes import FakeStorage
from tests.notify_support import (
    PRODUCERS,
    UPLOADS,
    VARIANTS,
    etag_of,
    producers_spec,
    rejected_event,
    upload_event,
    variant_events,
)

from ..adapters import s3_links
from ..notifier import NO_LINK
from ..trust import Forgery, Home
from .test_notifier import CAT, Parts, assert_one_ready_email, round_events


def _variants_for(*uploads: Upload) -> FakeStorage:
    """The variants bucket as the runtime leaves it: every variant with its source etag."""
    storage = FakeStorage()
    for upload in uploads:
        for p in sorted(PRODUCERS):
            for e in variant_events(upload, p):
                for v in e["detail"]["variants"]:
                    storage.put(
                        VARIANTS,
                        v["key"],
                        b"variant",
                        content_type="image/webp",
                        metadata={"source-etag": upload.etag, "processor": p, "source-key": upload.key},
                    )
    return storage


def _with(event: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    change(event)
    return event


def _variant(upload: Upload, processor: str, key: str, bucket: str = VARIANTS, source: str | None = None) -> dict:
    info = VariantInfo(processor, bucket, key, "webp", 320, 240, 1000)
    detail_type, detail = to_entry(VariantsCreated(upload, info.processor, (info,), "0123456789abcdef"))
    event = copy.deepcopy(variant_events(upload, "resize")[0])
    event.update({"source": source or f"imgpipe.{processor}", "detail-type": detail_type, "detail": detail})
    return event


def _from_backfill(upload: Upload, notify: bool = False) -> dict[str, Any]:
    """An upload event as the stack's backfill puts it on the bus (imgpipe/backfill.py), unsigned."""
    event = upload_event(upload)
    event["source"] = BACKFILL_SOURCE
    event["detail"]["imgpipe"] = {"backfill": "r1", "notify": notify, "targets": ["notify"]}
    return event


OTHER_STACK = Upload("imgpipe-b-uploads", CAT.key, CAT.etag)
#: (forged event, the reason it must be refused for)
FORGED: dict[str, tuple[dict[str, Any], Forgery]] = {
    "foreign source": (
        _with(rejected_event(CAT, "resize", "corrupt_image"), lambda e: e.update(source="attacker.resize")),
        Forgery.FOREIGN_SOURCE,
    ),
    "a source that is not a producer (notify itself)": (
        _with(rejected_event(CAT, "resize", "corrupt_image"), lambda e: e.update(source="imgpipe.notify")),
        Forgery.FOREIGN_SOURCE,
    ),
    "an imgpipe. source of no producer": (
        _with(variant_events(CAT, "resize")[0], lambda e: e.update(source="imgpipe.evil")),
        Forgery.FOREIGN_SOURCE,
    ),
    "S3's detail-type from another source": (
        _with(upload_event(CAT), lambda e: e.update(source="imgpipe.resize")),
        Forgery.FOREIGN_SOURCE,
    ),
    "an upload in a foreign bucket": (
        variant_events(Upload("attacker-bucket", CAT.key, CAT.etag), "resize")[0],
        Forgery.FOREIGN_BUCKET,
    ),
    "an Object Created of a foreign bucket": (
        upload_event(Upload("attacker-bucket", CAT.key, CAT.etag)),
        Forgery.FOREIGN_BUCKET,
    ),
    "a second stack's variant": (variant_events(OTHER_STACK, "resize")[0], Forgery.FOREIGN_BUCKET),
    "a second stack's rejection": (rejected_event(OTHER_STACK, "convert", "corrupt_image"), Forgery.FOREIGN_BUCKET),
    "a second stack's upload": (upload_event(OTHER_STACK), Forgery.FOREIGN_BUCKET),
    "a second stack's backfill": (_from_backfill(OTHER_STACK), Forgery.FOREIGN_BUCKET),
    "a variant in a foreign bucket": (
        _variant(CAT, "resize", variant_key("resize", CAT.key, "320w", "webp"), bucket="imgpipe-b-variants"),
        Forgery.FOREIGN_VARIANT_BUCKET,
    ),
    "a variant key outside the upload's prefix": (
        _variant(CAT, "resize", "resize/secrets/payroll.pdf/320w.webp"),
        Forgery.OUTSIDE_PREFIX,
    ),
    "a key in the uploads' layout, not a variant": (_variant(CAT, "resize", CAT.key), Forgery.OUTSIDE_PREFIX),
    "a variant key under another processor's prefix": (
        _variant(CAT, "resize", variant_key("thumbnail", CAT.key, "300x300", "webp")),
        Forgery.OUTSIDE_PREFIX,
    ),
    "a key one level deeper than a variant": (
        _variant(CAT, "resize", f"resize/{CAT.key}/more/320w.webp"),
        Forgery.OUTSIDE_PREFIX,
    ),
    "the done record as a variant": (
        _variant(CAT, "resize", variant_prefix("resize", CAT.key) + DONE_RECORD),
        Forgery.OUTSIDE_PREFIX,
    ),
    "a source reporting for another processor": (
        _variant(CAT, "thumbnail", variant_key("thumbnail", CAT.key, "300x300", "webp"), source="imgpipe.resize"),
        Forgery.PRODUCER_MISMATCH,
    ),
    "a rejection naming another processor": (
        _with(rejected_event(CAT, "convert", "corrupt_image"), lambda e: e.update(source="imgpipe.resize")),
        Forgery.PRODUCER_MISMATCH,
    ),
    "a variant that does not exist": (
        _variant(CAT, "resize", variant_key("resize", CAT.key, "9999w", "webp")),
        Forgery.VARIANT_MISSING,
    ),
    "a wrong etag (the variant was made from other bytes)": (
        variant_events(Upload(UPLOADS, CAT.key, etag_of("forged bytes")), "resize")[0],
        Forgery.ETAG_MISMATCH,
    ),
    "a hold from a producer not declared to hold (only [outputs] holds may)": (
        _with(variant_events(CAT, "resize")[0], lambda e: e["detail"].update(hold=True)),
        Forgery.UNDECLARED_HOLD,
    ),
    "a malformed pipeline event from a producer's source": (
        _with(variant_events(CAT, "resize")[0], lambda e: e["detail"].pop("variants")),
        Forgery.MALFORMED,
    ),
}


@pytest.mark.parametrize("name", sorted(FORGED))
def test_a_forged_event_writes_nothing_sends_nothing_and_is_counted(name: str) -> None:
    event, reason = FORGED[name]
    parts = Parts()
    notifier = parts.notifier(uploads=FakeStorage(), variants=_variants_for(CAT))
    result = notifier.handle(copy.deepcopy(event))  # returns normally: no retry, no DLQ
    assert (result["step"], result["reason"]) == ("forged", reason.value), result
    assert parts.catalog.items == {}
    assert parts.sender.sent == []
    assert parts.metrics.counts == {"ForgedEventsRejected": 1, f"Forged_{reason.value}": 1}


def test_forged_events_mixed_into_a_real_round_change_nothing_in_it() -> None:
    parts = Parts()
    notifier = parts.notifier(variants=_variants_for(CAT))
    forged = [copy.deepcopy(e) for e, _ in FORGED.values()]
    for e in forged[: len(forged) // 2] + round_events(CAT) + forged[len(forged) // 2 :]:
        notifier.handle(e)
    assert_one_ready_email(parts.sender)
    assert "imgpipe-b-" not in parts.sender.sent[0].body and "payroll" not in parts.sender.sent[0].body
    assert parts.metrics.counts["ForgedEventsRejected"] == len(FORGED)
    assert list(parts.catalog.items) == [(RoundRef.of(CAT).item_key["pk"], RoundRef.of(CAT).item_key["sk"])]


def test_a_real_round_passes_every_check_including_the_variants_etag() -> None:
    parts = Parts()
    notifier = parts.notifier(variants=_variants_for(CAT))
    for e in round_events(CAT):
        assert notifier.handle(e)["step"] != "forged"
    assert_one_ready_email(parts.sender)
    assert parts.metrics.counts["ForgedEventsRejected"] == 0


def test_links_are_made_only_for_keys_where_this_uploads_variants_are() -> None:
    """A variant record that would not pass today's checks (recorded before them) gets no link."""
    parts = Parts()
    notifier = parts.notifier()
    planted = VariantsCreated(
        CAT, "resize", (VariantInfo("resize", VARIANTS, "resize/secrets/payroll.pdf/320w.webp", "webp", 1, 1, 1),), "h"
    )
    parts.catalog.record_variants(planted, expected=sorted(PRODUCERS), now=parts.clock())
    linked: list[str] = []
    notifier.link = lambda b, k: linked.append(k) or f"https://{b}.example/{k}?sig"
    for e in round_events(CAT)[1:]:
        notifier.handle(e)
    (email,) = parts.sender.sent
    assert "resize/secrets/payroll.pdf/320w.webp" not in linked
    assert NO_LINK in email.body
    assert all(k.startswith(tuple(f"{p}/{CAT.key}/" for p in PRODUCERS)) for k in linked) and len(linked) == 7


def test_the_link_function_refuses_any_other_bucket() -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    link = s3_links(3600, s3, bucket=VARIANTS)
    assert link(VARIANTS, "resize/photos/cat.jpg/320w.webp").startswith("https://")
    for bucket, key in ((UPLOADS, CAT.key), ("imgpipe-b-variants", "resize/photos/cat.jpg/320w.webp"), (VARIANTS, "")):
        with pytest.raises(ValueError, match="refusing to presign"):
            link(bucket, key)


def test_home_reads_the_producers_from_the_expected_spec() -> None:
    home = Home.of(UPLOADS, VARIANTS, producers_spec())
    assert home.producers == frozenset(PRODUCERS)
    assert home.producer_of("imgpipe.resize") == "resize"
    assert home.producer_of("imgpipe.notify") is None and home.producer_of("imgpipe.") is None


# --- a stack with an event key: believed by signature, nothing asked of S3 --------------------
KEY = b"this stack's event key"
OTHER_KEY = b"a second stack's event key"
#: what the signature cannot tell (the variant's object is gone or was made from other bytes): a
#: producer of this stack never says so, and no one else can sign
_OBJECT_CHECKS = {Forgery.VARIANT_MISSING, Forgery.ETAG_MISMATCH}


def _signed(event: dict[str, Any], key: bytes) -> dict[str, Any]:
    if event.get("source") == "aws.s3" or not isinstance(event.get("detail"), dict):
        return copy.deepcopy(event)
    return _with(event, lambda e: e.update(detail=signed(key, e["source"], e["detail-type"], e["detail"])))


class _NoRequests(FakeStorage):
    """The variants bucket of a stack with an event key: notify must not ask it anything."""

    def head(self, bucket: str, key: str) -> Any:
        raise AssertionError(f"a request for s3://{bucket}/{key}: notify checks signatures, not objects")


def _keyed(parts: Parts, **kw: Any) -> Any:
    notifier = parts.notifier(variants=_NoRequests(), **kw)
    notifier.event_key = lambda: KEY
    return notifier


@pytest.mark.parametrize("name", sorted(FORGED))
@pytest.mark.parametrize("signer", ["unsigned", "another stack's key"])
def test_with_an_event_key_a_forged_event_unsigned_or_signed_elsewhere_is_refused(name: str, signer: str) -> None:
    event, reason = FORGED[name]
    if signer == "another stack's key":
        event = _signed(event, OTHER_KEY)
    parts = Parts()
    result = _keyed(parts, uploads=FakeStorage()).handle(copy.deepcopy(event))
    pipeline_source = event.get("source") != "aws.s3" and reason is not Forgery.FOREIGN_SOURCE
    expected = Forgery.BAD_SIGNATURE if pipeline_source else reason
    assert (result["step"], result["reason"]) == ("forged", expected.value), result
    assert parts.catalog.items == {} and parts.sender.sent == []
    assert parts.metrics.counts == {"ForgedEventsRejected": 1, f"Forged_{expected.value}": 1}


@pytest.mark.parametrize("name", sorted(n for n, (_, r) in FORGED.items() if r not in _OBJECT_CHECKS))
def test_signed_with_the_stack_key_the_event_is_still_held_to_the_stack_layout(name: str) -> None:
    """A signature says which stack sent it, not that its producer is free of bugs: the layout
    checks (buckets, prefixes, producer names, shape) hold for signed events too."""
    event, reason = FORGED[name]
    parts = Parts()
    result = _keyed(parts, uploads=FakeStorage()).handle(_signed(event, KEY))
    assert (result["step"], result["reason"]) == ("forged", reason.value), result
    assert parts.catalog.items == {} and parts.sender.sent == []


def test_a_changed_signed_event_is_refused() -> None:
    """Anything changed after signing (here one variant's key, within the upload's own prefix)."""
    (event,) = variant_events(CAT, "resize")
    event = _signed(event, KEY)
    event["detail"]["variants"][0]["bytes"] += 1
    parts = Parts()
    result = _keyed(parts).handle(event)
    assert result["reason"] == Forgery.BAD_SIGNATURE.value


def test_with_an_event_key_a_real_round_completes_with_no_request_about_its_variants() -> None:
    parts = Parts()
    notifier = _keyed(parts)
    events = [_signed(e, KEY) for e in round_events(CAT)]
    # as EventBridge delivers it: the detail re-serialised (an integral float may lose its ".0")
    for e in events:
        assert notifier.handle(json.loads(json.dumps(e)))["step"] != "forged"
    assert_one_ready_email(parts.sender)
    assert parts.metrics.counts["ForgedEventsRejected"] == 0


@pytest.mark.parametrize("signer", ["unsigned", "another stack's key"])
def test_with_an_event_key_a_backfill_event_not_signed_by_this_stack_is_refused(signer: str) -> None:
    """It could withhold an upload's email (``notify: false``) or shrink what its round waits for."""
    event = _from_backfill(CAT)
    if signer == "another stack's key":
        event = _signed(event, OTHER_KEY)
    parts = Parts()
    result = _keyed(parts, uploads=FakeStorage()).handle(event)
    assert (result["step"], result["reason"]) == ("forged", Forgery.BAD_SIGNATURE.value), result
    assert parts.catalog.items == {} and parts.sender.sent == []


def test_a_backfill_event_signed_by_this_stack_opens_the_round_without_an_email() -> None:
    parts = Parts()
    notifier = _keyed(parts)
    assert notifier.handle(json.loads(json.dumps(_signed(_from_backfill(CAT), KEY))))["step"] != "forged"
    (item,) = parts.catalog.items.values()
    assert item["uploaded_at"] and item["notify"] is False  # recorded, with no email to send
    assert parts.metrics.counts["ForgedEventsRejected"] == 0
