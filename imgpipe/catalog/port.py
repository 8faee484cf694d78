"""The catalog port, and what every implementation of it shares.

:class:`Catalog` is what notify depends on. :class:`CatalogBase` turns each event into the
attributes it adds to its round, so an implementation only provides one conditional write
(``_record``), the email claim's four writes and the two reads. The implementations are
:class:`~imgpipe.catalog.dynamo.DynamoCatalog` and, for tests only, ``MemoryCatalog`` in
``imgpipe_tools/testing/memory_catalog.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from imgpipe.events import ImageRejected, Upload, VariantInfo, VariantsCreated

from .model import (
    PROCESSING,
    SUPERSEDED,
    Recorded,
    Round,
    RoundRef,
    UploadFacts,
    facts_attr,
    hold_attr,
    iso,
    latest_of,
    rejection_attr,
    reopens,
    variant_attr,
)
from .schema import OWNER_ATTRIBUTE, owner_of


class Catalog(Protocol):
    """The catalog port. Every write is one atomic conditional update of one item."""

    def record_upload(self, upload: Upload, facts: UploadFacts, *, expected: list[str], now: datetime) -> Recorded: ...

    def record_variants(self, event: VariantsCreated, *, expected: list[str], now: datetime) -> Recorded:
        """Every output of one producer's event, in one conditional write."""

    def record_rejection(self, event: ImageRejected, *, expected: list[str], now: datetime) -> Recorded: ...

    def record_together(
        self, events: Sequence[VariantsCreated | ImageRejected], *, expected: list[str], now: datetime
    ) -> Recorded | None:
        """Several producers' events of one round in one conditional write, when none of them
        is recorded yet (``fresh``); when one is, nothing is written and the round is returned as
        it is (not ``fresh``): :func:`recorded_in` tells which were, and the caller records the
        others one by one. None: they cannot share a write (the same report twice, more
        attributes than one write takes), nothing tried."""

    def end_silently(self, ref: RoundRef, status: str, *, now: datetime) -> bool:
        """Set a silent final status unless the email was claimed; True if this call did it."""

    def claim_email(self, ref: RoundRef, status: str, *, token: str, now: datetime, stale_before: datetime) -> bool:
        """Claim the round's one email (and set its final status) before publishing. Succeeds when
        nobody claimed it, or when an earlier claim was never confirmed and is older than
        ``stale_before`` (its holder died between claim and publish)."""

    def confirm_email(self, ref: RoundRef, *, token: str, message_id: str, subject: str, now: datetime) -> bool: ...

    def release_email(self, ref: RoundRef, *, token: str, error: str, now: datetime) -> bool:
        """Give the claim back after a failed publish, so a retry can send."""

    def mark_deleted(
        self, bucket: str, key: str, *, now: datetime, deleted_at: str | None = None, version_id: str | None = None
    ) -> list[RoundRef]:
        """The upload was deleted (services/purge): every round of ``key`` (only the one of
        ``version_id`` when given) reads ``deleted``, with ``deleted_at`` (S3's time of the
        deletion; default ``now``), and forgets its variant and rejection records, whose
        objects are purged. No email is sent for a deleted round; a later event of the same
        upload is recorded but changes nothing; a new upload of the same bytes reopens it
        (:func:`~imgpipe.catalog.model.reopens`). Idempotent. Returns the rounds marked."""

    def record_review(self, ref: RoundRef, decision: str, *, now: datetime) -> bool:
        """Keep a person's decision on a held round (APPROVED or REJECTED, ``imgpipe review``) and
        when. Refused (False) for a missing or deleted round, and once it was rejected (its
        variants are gone); approving twice or rejecting after approving is allowed."""

    def load(self, ref: RoundRef) -> Round | None: ...

    def rounds(self, bucket: str, key: str) -> list[Round]: ...


def _new_round(upload: Upload, expected: list[str], now: datetime) -> dict[str, Any]:
    """What the first event of a round sets; later events leave these as they are."""
    initial = {
        "bucket": upload.bucket,
        "key": upload.key,
        "etag": upload.etag,
        "expected": list(expected),
        "first_seen_at": iso(now),
        "status": PROCESSING,
    }
    owner = owner_of(upload.key)
    if owner:
        # Only the upload API's keys: an absent attribute keeps the round out of the owner index.
        initial[OWNER_ATTRIBUTE] = owner
    return initial


def _variant_value(event: VariantsCreated, v: VariantInfo, now: datetime) -> dict[str, Any]:
    # Not the processor nor the key: the attribute's name holds both (variant_attr). A round is
    # written once per event and billed per KB of the item, so what it repeats costs on every write.
    return {
        "bucket": v.bucket,
        "format": v.format,
        "width": v.width,
        "height": v.height,
        "bytes": v.bytes,
        **({"role": v.role} if v.role else {}),
        "variant_count": event.variant_count,
        "settings_hash": event.settings_hash,
        "at": iso(now),
    }


def _facts_and_hold(event: VariantsCreated, now: datetime) -> dict[str, Any]:
    """The processor's facts and its hold: attributes of their own, in the same write as its
    variants (so a round never has one without the other)."""
    attrs: dict[str, Any] = {}
    if event.facts:
        # a JSON string: DynamoDB takes no floats, and the facts are read back whole, never queried
        attrs[facts_attr(event.processor)] = {"facts": json.dumps(event.facts, sort_keys=True), "at": iso(now)}
    if event.hold:
        attrs[hold_attr(event.processor)] = {"at": iso(now)}
    return attrs


def _rejection_value(event: ImageRejected, now: datetime) -> dict[str, Any]:
    return {"processor": event.processor, "reason": event.reason, "message": event.message, "at": iso(now)}


#: attributes one write of several events sets at most: an update expression is at most 4 KB, and
#: each attribute takes about 14 characters of it ("#a12 = :v12, "); a round's producers set far fewer
MAX_ATTRIBUTES_PER_WRITE = 200


def recorded_in(r: Round, event: VariantsCreated | ImageRejected) -> bool:
    """Whether ``r`` holds ``event``'s report already (the attribute its write is conditional on)."""
    if isinstance(event, ImageRejected):
        return any(rej.processor == event.processor for rej in r.rejections)
    first = event.variants[0].key
    return any(v.processor == event.processor and v.key == first for v in r.variants)


def _event_attrs(event: VariantsCreated | ImageRejected, now: datetime) -> tuple[str, dict[str, Any]]:
    """What a producer's event adds to its round, and the attribute whose presence says it was
    recorded (its first variant's record, or its rejection)."""
    if isinstance(event, ImageRejected):
        mark = rejection_attr(event.processor)
        return mark, {mark: _rejection_value(event, now)}
    attrs = {variant_attr(event.processor, v.key): _variant_value(event, v, now) for v in event.variants}
    attrs.update(_facts_and_hold(event, now))
    return variant_attr(event.processor, event.variants[0].key), attrs


class CatalogBase:
    """What every implementation shares: the three event writes (each one ``_record``) and the
    read side that ``imgpipe status`` calls."""

    def _record(
        self, upload: Upload, marks: Sequence[str], attrs: Mapping[str, Any], initial: Mapping[str, Any], now: datetime
    ) -> Recorded:
        """Write ``attrs`` unless one of ``marks`` is already there (a duplicate: then nothing
        changes). ``initial`` is set only where the round does not have it yet."""
        raise NotImplementedError

    def _reopen(self, ref: RoundRef, *, now: datetime) -> bool:
        """Turn a DELETED round back into a processing one that knows nothing of the deleted
        upload's facts or email (one conditional write: only if it is still deleted)."""
        raise NotImplementedError

    def record_upload(self, upload: Upload, facts: UploadFacts, *, expected: list[str], now: datetime) -> Recorded:
        attrs = {"uploaded_at": facts.uploaded_at or iso(now), **facts.attributes()}
        recorded = self._record(upload, ["uploaded_at"], attrs, _new_round(upload, expected, now), now)
        if reopens(recorded.round, upload.version_id, facts.uploaded_at):
            # The same bytes uploaded again after a delete: a new round in the same item.
            self._reopen(RoundRef.of(upload), now=now)
            recorded = self._record(upload, ["uploaded_at"], attrs, _new_round(upload, expected, now), now)
        return recorded

    def record_variants(self, event: VariantsCreated, *, expected: list[str], now: datetime) -> Recorded:
        # One write for the producer's whole event: every variant's record, or (a repeat) none.
        return self._record_event(event, expected, now)

    def record_rejection(self, event: ImageRejected, *, expected: list[str], now: datetime) -> Recorded:
        return self._record_event(event, expected, now)

    def _record_event(self, event: VariantsCreated | ImageRejected, expected: list[str], now: datetime) -> Recorded:
        mark, attrs = _event_attrs(event, now)
        return self._record(event.upload, [mark], attrs, _new_round(event.upload, expected, now), now)

    def record_together(
        self, events: Sequence[VariantsCreated | ImageRejected], *, expected: list[str], now: datetime
    ) -> Recorded | None:
        marks: list[str] = []
        attrs: dict[str, Any] = {}
        for event in events:
            mark, more = _event_attrs(event, now)
            if mark in marks or attrs.keys() & more.keys():
                return None  # the same report twice in the batch: one by one sees the repeat
            marks.append(mark)
            attrs.update(more)
        if len({RoundRef.of(e.upload) for e in events}) != 1 or len(attrs) > MAX_ATTRIBUTES_PER_WRITE:
            return None
        upload = events[0].upload
        return self._record(upload, marks, attrs, _new_round(upload, expected, now), now)

    def load(self, ref: RoundRef) -> Round | None:
        raise NotImplementedError

    def rounds(self, bucket: str, key: str) -> list[Round]:
        raise NotImplementedError

    def get(self, bucket: str, key: str, etag: str) -> dict[str, Any] | None:
        """One upload round as a JSON-friendly dict, or None."""
        found = self.load(RoundRef(bucket, key, etag))
        return found.as_dict() if found else None

    def latest(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The newest upload round of ``key`` as a JSON-friendly dict, or None."""
        found = latest_of(self.rounds(bucket, key))
        return found.as_dict() if found else None

    def history(self, bucket: str, key: str) -> list[dict[str, Any]]:
        """Every round of ``key`` still in the catalog, newest first."""
        rounds = self.rounds(bucket, key)
        ordered = sorted(rounds, key=lambda r: (r.status != SUPERSEDED, r.uploaded_at or r.first_seen_at or ""))
        return [r.as_dict() for r in reversed(ordered)]
