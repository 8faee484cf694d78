"""Which events notify believes: only its own stack's (docs/notify.md "Forged events").

Anyone in the account allowed ``events:PutEvents`` on the bus (or a second imgpipe stack in the
same account and region) can put an event that looks like imgpipe's. Before notify records or
links anything, every event must be what this stack's own producers and uploads bucket would
send:

- "Object Created" comes from ``aws.s3`` about the stack's uploads bucket, or from the stack's
  backfill (``imgpipe.backfill``), signed with the stack's event key as the producers' events are;
- "Variants Created" / "Image Rejected" come from ``imgpipe.<p>`` for a producer ``p`` of this
  stack (the expected-producers spec lists them), carry a signature made with the stack's event key
  (imgpipe/signing.py), name ``p`` as their processor, and are about an upload in the stack's
  uploads bucket;
- each variant of a "Variants Created" is in the stack's variants bucket under ``<p>/<upload key>/``;
- a "Variants Created" that holds the upload (``hold``) comes from a producer declared to hold.

Pure: :func:`check_event` looks at the event (and the key) only. A stack without an event key (a test
harness) checks instead that each variant object exists and was made from this upload (its
``source-etag`` metadata): the notifier's I/O step, one HEAD per variant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imgpipe.events import (
    BACKFILL_SOURCE,
    OBJECT_CREATED,
    PIPELINE_DETAIL_TYPES,
    PIPELINE_SOURCE_PREFIX,
    EventError,
    VariantsCreated,
    parse_object_created,
    parse_pipeline_event,
)
from imgpipe.keys import DONE_RECORD, variant_prefix
from imgpipe.signing import verify

#: the only source of S3's own events (EventBridge refuses "aws.*" sources from PutEvents)
S3_SOURCE = "aws.s3"


class Forgery(StrEnum):
    """Why an event was not believed (the metric ``Forged_<reason>`` counts each)."""

    FOREIGN_SOURCE = "foreign_source"  # not S3, nor one of this stack's producers
    MALFORMED = "malformed"  # not the shape of the event it claims to be
    PRODUCER_MISMATCH = "producer_mismatch"  # the detail names another processor than the source
    FOREIGN_BUCKET = "foreign_bucket"  # the upload is not in this stack's uploads bucket
    FOREIGN_VARIANT_BUCKET = "foreign_variant_bucket"  # the variant is not in this stack's variants bucket
    OUTSIDE_PREFIX = "outside_prefix"  # the variant key is not <processor>/<upload key>/<file>
    VARIANT_MISSING = "variant_missing"  # no such object in the variants bucket
    ETAG_MISMATCH = "etag_mismatch"  # the variant object was not made from this upload (or by this processor)
    BAD_SIGNATURE = "bad_signature"  # not signed with this stack's event key (or changed since)
    UNDECLARED_HOLD = "undeclared_hold"  # holds the upload, from a producer not declared to ([outputs] holds)


@dataclass(frozen=True)
class Home:
    """What notify knows about its own stack."""

    uploads_bucket: str
    variants_bucket: str
    producers: frozenset[str]
    #: the stack's event key (imgpipe/signing.py); None: a stack without one (a test harness), whose
    #: notify checks each variant object instead
    event_key: bytes | None = None
    #: the producers whose events may hold an upload for review (moderate: ``[outputs] holds``)
    holders: frozenset[str] = frozenset()

    @classmethod
    def of(cls, uploads_bucket: str, variants_bucket: str, expected_spec: str, event_key: bytes | None = None) -> Home:
        """The producers are the ones the expected-producers spec lists."""
        entries = json.loads(expected_spec or "[]")
        names = frozenset(str(entry["name"]) for entry in entries)
        holders = frozenset(str(entry["name"]) for entry in entries if entry.get("holds") is True)
        return cls(uploads_bucket, variants_bucket, names, event_key, holders)

    def producer_of(self, source: Any) -> str | None:
        if not isinstance(source, str) or not source.startswith(PIPELINE_SOURCE_PREFIX):
            return None
        name = source[len(PIPELINE_SOURCE_PREFIX) :]
        return name if name in self.producers else None

    def is_variant_location(self, processor: str, upload_key: str, bucket: str, key: str) -> bool:
        """Whether ``bucket``/``key`` is where ``processor`` writes a variant of ``upload_key``:
        the variants bucket, ``<processor>/<upload key>/<file>``, one file name, not the done record."""
        if processor not in self.producers or bucket != self.variants_bucket:
            return False
        prefix = variant_prefix(processor, upload_key)
        name = key[len(prefix) :] if key.startswith(prefix) else ""
        return bool(name) and "/" not in name and name != DONE_RECORD


@dataclass(frozen=True)
class Verdict:
    reason: Forgery
    why: str


def check_event(event: dict[str, Any], home: Home) -> Verdict | None:
    """None if the event is one this stack could have sent; else why not."""
    kind, source = event.get("detail-type"), event.get("source")
    if kind == OBJECT_CREATED:
        if source not in (S3_SOURCE, BACKFILL_SOURCE):
            return Verdict(Forgery.FOREIGN_SOURCE, f"Object Created from {source!r}")
        if source == BACKFILL_SOURCE and home.event_key is not None and not verify(home.event_key, event):
            # a backfill's event may withhold the email or narrow the producers waited for: only the
            # stack's own backfill, which holds the key, may say so
            return Verdict(
                Forgery.BAD_SIGNATURE, f"Object Created from {source!r} is not signed with this stack's event key"
            )
        try:
            upload = parse_object_created(event).upload
        except EventError as exc:
            return Verdict(Forgery.MALFORMED, str(exc))
        if upload.bucket != home.uploads_bucket:
            return Verdict(Forgery.FOREIGN_BUCKET, f"upload in bucket {upload.bucket!r}")
        return None
    producer = home.producer_of(source)
    if producer is None or kind not in PIPELINE_DETAIL_TYPES:
        return Verdict(Forgery.FOREIGN_SOURCE, f"{kind!r} from {source!r}")
    if home.event_key is not None and not verify(home.event_key, event):
        # checked before anything the event says is read: only this stack's producers hold the key
        return Verdict(Forgery.BAD_SIGNATURE, f"{kind!r} from {source!r} is not signed with this stack's event key")
    try:
        parsed = parse_pipeline_event(event)
    except EventError as exc:
        return Verdict(Forgery.MALFORMED, str(exc))
    named = {parsed.processor}
    if isinstance(parsed, VariantsCreated):
        named |= {v.processor for v in parsed.variants}
    if named != {producer}:
        return Verdict(Forgery.PRODUCER_MISMATCH, f"{source!r} reports for processor {sorted(named)!r}")
    if parsed.upload.bucket != home.uploads_bucket:
        return Verdict(Forgery.FOREIGN_BUCKET, f"upload in bucket {parsed.upload.bucket!r}")
    if isinstance(parsed, VariantsCreated):
        if parsed.hold and producer not in home.holders:
            # a hold is the round's state: only a producer declared to hold may set it (a stack
            # without one writes its outputs servable, so such a hold would hide nothing)
            return Verdict(Forgery.UNDECLARED_HOLD, f"{source!r} holds the upload but does not declare [outputs] holds")
        # checked even when signed: a signature proves who sent it, not that its producer is bug-free
        for v in parsed.variants:
            if v.bucket != home.variants_bucket:
                return Verdict(Forgery.FOREIGN_VARIANT_BUCKET, f"variant in bucket {v.bucket!r}")
            if not home.is_variant_location(producer, parsed.upload.key, v.bucket, v.key):
                return Verdict(Forgery.OUTSIDE_PREFIX, f"variant key {v.key!r} is not under {producer}/<upload key>/")
    return None
