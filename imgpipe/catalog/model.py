"""The catalog's state model: what one round of an upload is, typed, with no I/O.

The item layout it reads is described in :mod:`imgpipe.catalog`; the table's key attributes
come from :mod:`imgpipe.catalog.schema`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from imgpipe.events import Upload, VariantInfo

from .schema import PARTITION_KEY, SORT_KEY

# Overall status of a round.
PROCESSING = "processing"
COMPLETED = "completed"  # every expected processor produced its variants
PARTIAL = "partial"  # some produced, some rejected
REJECTED = "rejected"  # every expected processor rejected
SUPERSEDED = "superseded"  # overwritten before processing: ended silently, the new round emails
IGNORED = "ignored"  # no variant producer handles this key: nothing to announce
DELETED = "deleted"  # the upload was deleted; its variants were purged (services/purge)
EMAIL_STATUSES = (COMPLETED, PARTIAL, REJECTED)
#: no email is ever sent for a round in one of these (a late event changes nothing)
SILENT_STATUSES = (SUPERSEDED, IGNORED, DELETED)
#: what a round forgets when a deletion ends it: its variant and rejection records (the variants
#: are purged) ... and, when a new upload of the same bytes reopens it, what the old upload had
#: told (:data:`UPLOAD_FACT_ATTRIBUTES`) and its email (:data:`EMAIL_ATTRIBUTES`)
#: shown, never stored as a status: a round a processor holds for review (its event's ``hold``,
#: services/moderate, kept as the round's own ``h#<processor>`` attribute) until ``imgpipe review
#: approve``; its variants are not offered meanwhile (docs/moderation.md)
HELD = "held"
#: the review decisions a round keeps (``review``): released, or its variants removed
APPROVED = "approved"
REVIEW_DECISIONS = (APPROVED, REJECTED)
EMAIL_ATTRIBUTES = ("email_sent_at", "email_claim", "email_message_id", "email_subject", "email_last_error")

# State of one processor within a round.
PENDING, DONE, FAILED = "pending", "done", "rejected"

VARIANT_PREFIX = "v#"
REJECTION_PREFIX = "r#"
#: a processor's facts about the upload: their own attribute, never inside a variant's record
FACTS_PREFIX = "f#"
#: a processor's hold on the round (moderation): the catalog's state, not a key inside the facts
HOLD_PREFIX = "h#"
#: every per-processor record of a round: what a deletion forgets
RECORD_PREFIXES = (VARIANT_PREFIX, REJECTION_PREFIX, FACTS_PREFIX, HOLD_PREFIX)


def round_pk(bucket: str, key: str) -> str:
    # Bucket names cannot contain "/", so the first "/" after the scheme splits bucket from key.
    return f"s3://{bucket}/{key}"


def round_sk(etag: str) -> str:
    # The prefix keeps the sort key non-empty (DynamoDB rejects "") even for an unknown etag.
    return f"etag#{etag}"


def variant_attr(processor: str, variant_key: str) -> str:
    return f"{VARIANT_PREFIX}{processor}#{variant_key}"


def rejection_attr(processor: str) -> str:
    return f"{REJECTION_PREFIX}{processor}"


def facts_attr(processor: str) -> str:
    return f"{FACTS_PREFIX}{processor}"


def hold_attr(processor: str) -> str:
    return f"{HOLD_PREFIX}{processor}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class RoundRef:
    """Names one round: an upload's bucket, key and etag."""

    bucket: str
    key: str
    etag: str

    @classmethod
    def of(cls, upload: Upload) -> RoundRef:
        return cls(upload.bucket, upload.key, upload.etag)

    @property
    def item_key(self) -> dict[str, str]:
        return {PARTITION_KEY: round_pk(self.bucket, self.key), SORT_KEY: round_sk(self.etag)}


@dataclass(frozen=True)
class VariantRecord(VariantInfo):
    """A variant as the catalog keeps it: with how many its processor announced."""

    variant_count: int = 0


@dataclass(frozen=True)
class RejectionRecord:
    processor: str
    reason: str
    message: str


@dataclass(frozen=True)
class ProcessorState:
    name: str
    state: str  # PENDING | DONE | FAILED
    expected: bool  # False: it reported although the key was not expected to reach it
    variants: tuple[VariantRecord, ...] = ()
    variant_count: int | None = None  # announced by the processor; None until it reports
    rejection: RejectionRecord | None = None


def _natural(v: VariantInfo) -> list[str | int]:
    """Sort key that puts 320w before 1280w (split strictly alternates text and digits)."""
    return [int(t) if i % 2 else t for i, t in enumerate(re.split(r"(\d+)", v.key))]


@dataclass(frozen=True)
class Round:
    """A catalog item, typed. The processor states are derived from the recorded events, so
    they can never disagree with them."""

    bucket: str
    key: str
    etag: str
    status: str = PROCESSING
    expected: tuple[str, ...] = ()
    variants: tuple[VariantRecord, ...] = ()
    rejections: tuple[RejectionRecord, ...] = ()
    version_id: str | None = None
    first_seen_at: str | None = None
    updated_at: str | None = None
    uploaded_at: str | None = None
    size: int | None = None
    content_type: str | None = None
    format: str | None = None  # sniffed from the first bytes
    width: int | None = None  # upright (EXIF orientation applied)
    height: int | None = None
    email_sent_at: str | None = None
    email_claim: str | None = None
    email_message_id: str | None = None
    email_subject: str | None = None
    #: False: the round was recorded for a backfill without --notify; it ends without an email
    notify: bool | None = None
    #: when S3 deleted the upload (the "Object Deleted" event's time), for a DELETED round
    deleted_at: str | None = None
    #: when a new upload of the same bytes reopened this (deleted) round: tells its completion
    #: event apart from the deleted upload's (services/notify/completion.py)
    reopened_at: str | None = None
    #: what a processor reported about the upload with its variants (its facts), by processor
    #: (services/describe, services/moderate)
    descriptions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the processors that hold the round for review (their events said ``hold``), sorted
    holds: tuple[str, ...] = ()
    #: a person's decision on a held round (APPROVED or REJECTED) and when (``imgpipe review``)
    review: str | None = None
    reviewed_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> RoundRef:
        return RoundRef(self.bucket, self.key, self.etag)

    def processor(self, name: str) -> ProcessorState:
        variants = tuple(sorted((v for v in self.variants if v.processor == name), key=_natural))
        rejection = next((r for r in self.rejections if r.processor == name), None)
        count = max((v.variant_count for v in variants), default=None)
        expected = name in self.expected
        # Variants win over a rejection: a late "superseded" replay must not undo a finished processor.
        if count is not None and len({v.key for v in variants}) >= count:
            return ProcessorState(name, DONE, expected, variants, count, rejection)
        if rejection is not None:
            return ProcessorState(name, FAILED, expected, variants, count, rejection)
        return ProcessorState(name, PENDING, expected, variants, count, None)

    def processors(self) -> list[ProcessorState]:
        """The expected processors, then any other that reported, by name."""
        reported = {v.processor for v in self.variants} | {r.processor for r in self.rejections}
        return [self.processor(n) for n in sorted(set(self.expected) | reported)]

    def pending(self) -> list[str]:
        return [n for n in self.expected if self.processor(n).state == PENDING]

    @property
    def held_by(self) -> list[str]:
        """The processors that hold the upload for review (the round's holds, never its facts)."""
        return sorted(self.holds)

    @property
    def held(self) -> bool:
        """Whether its variants are withheld: held by some processor and not approved (a rejected
        round stays withheld: its variants were removed)."""
        return bool(self.held_by) and self.review != APPROVED

    @property
    def shown_status(self) -> str:
        """The status people are shown: ``held`` while held, ``rejected`` once a review rejected it."""
        if self.status in SILENT_STATUSES or not self.held:
            return self.status
        return REJECTED if self.review == REJECTED else HELD

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (what ``imgpipe status`` prints)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "status": self.shown_status,
            "uploaded_at": self.uploaded_at,
            "size": self.size,
            "content_type": self.content_type,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "first_seen_at": self.first_seen_at,
            "updated_at": self.updated_at,
            "deleted_at": self.deleted_at,
            "expected": list(self.expected),
            "processors": {
                p.name: {
                    "state": p.state,
                    "expected": p.expected,
                    "variant_count": p.variant_count,
                    # a held round's variants are not offered (docs/moderation.md)
                    "variants": [] if self.held else [asdict(v) for v in p.variants],
                    "reason": p.rejection.reason if p.rejection else None,
                    "message": p.rejection.message if p.rejection else None,
                    **({"description": dict(self.descriptions[p.name])} if p.name in self.descriptions else {}),
                }
                for p in self.processors()
            },
            **({"held_by": self.held_by} if self.held_by else {}),
            **({"review": {"decision": self.review, "at": self.reviewed_at}} if self.review else {}),
            "email": {
                "sent_at": self.email_sent_at,
                "message_id": self.email_message_id,
                "subject": self.email_subject,
                **({"skipped": "backfill without --notify"} if self.notify is False else {}),
            },
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Round:
        """From a plain (deserialized) item."""
        variants, rejections = [], []
        descriptions: dict[str, Any] = {}
        holds: set[str] = set()
        #: facts an older version kept inside the variant's record (and, with them, the hold)
        legacy: dict[str, Any] = {}
        for name, value in item.items():
            if name.startswith(VARIANT_PREFIX):
                # The processor and the key are in the attribute's name; items written by older
                # versions repeat them in the map, and a round outlives an upgrade.
                processor, _, vkey = name[len(VARIANT_PREFIX) :].partition("#")
                if value.get("description"):
                    legacy[processor] = json.loads(value["description"])
                variants.append(
                    VariantRecord(
                        processor=processor,
                        bucket=str(value["bucket"]),
                        key=vkey,
                        format=str(value["format"]),
                        width=int(value["width"]),
                        height=int(value["height"]),
                        bytes=int(value["bytes"]),
                        role=str(value.get("role") or ""),
                        variant_count=int(value["variant_count"]),
                    )
                )
            elif name.startswith(REJECTION_PREFIX):
                rejections.append(RejectionRecord(str(value["processor"]), str(value["reason"]), str(value["message"])))
            elif name.startswith(FACTS_PREFIX):
                descriptions[name[len(FACTS_PREFIX) :]] = json.loads(value["facts"])
            elif name.startswith(HOLD_PREFIX):
                holds.add(name[len(HOLD_PREFIX) :])
        for processor, facts in legacy.items():
            descriptions.setdefault(processor, facts)
            # written before holds were the round's own: the facts' ``held`` was the hold
            if facts.get("held") is True:
                holds.add(processor)

        def opt(name: str) -> Any:
            value = item.get(name)
            return int(value) if isinstance(value, Decimal) else value

        return cls(
            bucket=item["bucket"],
            key=item["key"],
            etag=item["etag"],
            status=item.get("status", PROCESSING),
            expected=tuple(item.get("expected", ())),
            variants=tuple(sorted(variants, key=lambda v: (v.processor, v.key))),
            rejections=tuple(sorted(rejections, key=lambda r: r.processor)),
            version_id=opt("version_id"),
            first_seen_at=opt("first_seen_at"),
            updated_at=opt("updated_at"),
            uploaded_at=opt("uploaded_at"),
            size=opt("size"),
            content_type=opt("content_type"),
            format=opt("format"),
            width=opt("width"),
            height=opt("height"),
            email_sent_at=opt("email_sent_at"),
            email_claim=opt("email_claim"),
            email_message_id=opt("email_message_id"),
            email_subject=opt("email_subject"),
            notify=item.get("notify"),
            deleted_at=opt("deleted_at"),
            reopened_at=opt("reopened_at"),
            descriptions=descriptions,
            holds=tuple(sorted(holds)),
            review=opt("review"),
            reviewed_at=opt("reviewed_at"),
        )


@dataclass(frozen=True)
class Recorded:
    """The round after recording one event; ``fresh`` is False when the event was already there
    (a duplicate delivery or a replay), in which case nothing was written."""

    round: Round
    fresh: bool


@dataclass(frozen=True)
class UploadFacts:
    """What the "Object Created" event, a HEAD and the first bytes of the object tell."""

    uploaded_at: str | None = None
    size: int | None = None
    content_type: str | None = None
    version_id: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    #: False: a backfill run without --notify delivered the upload event (docs/backfill.md)
    notify: bool | None = None

    def attributes(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


#: the item attributes an "Object Created" sets (UploadFacts' fields)
UPLOAD_FACT_ATTRIBUTES = tuple(f for f in UploadFacts.__dataclass_fields__)


def _real_version(version_id: str | None) -> str | None:
    # "null" is the version id of an object in a bucket without versioning (moto says so too)
    return version_id if version_id not in (None, "", "null") else None


def reopens(r: Round, upload_version_id: str | None, uploaded_at: str | None) -> bool:
    """Whether an "Object Created" for a DELETED round is a new upload of the same bytes (same
    etag, so the same round), made after the deletion: then the round starts again and ends
    with its own email (docs/decisions.md "Delete cascade"). A late event of the deleted upload
    itself must not reopen it. Versions tell them apart on a versioned bucket; without
    versions, S3's event times do (an upload in the same second as the deletion counts as new)."""
    if r.status != DELETED:
        return False
    old, new = _real_version(r.version_id), _real_version(upload_version_id)
    if old and new:
        return old != new
    return bool(uploaded_at and r.deleted_at and uploaded_at >= r.deleted_at)


def latest_of(rounds: Iterable[Round]) -> Round | None:
    """The newest round of an object. A superseded round is older than some other by definition;
    otherwise the S3 event time decides, or when that event was lost, when notify first heard."""
    return max(
        rounds,
        key=lambda r: (r.status != SUPERSEDED, r.uploaded_at or r.first_seen_at or ""),
        default=None,
    )
