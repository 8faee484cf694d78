"""The catalog: one DynamoDB item per upload round (bucket + key + etag), kept by notify and
read by ``imgpipe status``.

Item layout (documented in ``docs/notify.md``)::

    pk  = "s3://<bucket>/<key>"        every round of one object shares a partition
    sk  = "etag#<etag>"                one round per content version
    status, expected, first_seen_at, updated_at, expires_at (TTL), upload facts when known,
    "v#<processor>#<variant key>"      one top-level map per variant
    "r#<processor>"                    one top-level map per rejection
    email_sent_at, email_claim, email_message_id, ...

Every variant and every rejection is its own *top-level* attribute. DynamoDB cannot set
``a.b.c`` unless ``a.b`` exists, so a per-processor nested map would need a "create the
parent" write that races with its siblings; flat attributes make each event exactly one
conditional UpdateItem that never depends on another event's write.

Two implementations of the same port: :class:`DynamoCatalog` (boto3) and
:class:`MemoryCatalog` (in memory, for unit tests and anything that needs no AWS).
"""

from __future__ import annotations

import contextlib
import copy
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from imgpipe.events import ImageRejected, Upload, VariantCreated, VariantInfo

# Overall status of a round.
PROCESSING = "processing"
COMPLETED = "completed"  # every expected processor produced its variants
PARTIAL = "partial"  # some produced, some rejected
REJECTED = "rejected"  # every expected processor rejected
SUPERSEDED = "superseded"  # overwritten before processing: ended silently, the new round emails
IGNORED = "ignored"  # no variant producer handles this key: nothing to announce
EMAIL_STATUSES = (COMPLETED, PARTIAL, REJECTED)
SILENT_STATUSES = (SUPERSEDED, IGNORED)

# State of one processor within a round.
PENDING, DONE, FAILED = "pending", "done", "rejected"

VARIANT_PREFIX = "v#"
REJECTION_PREFIX = "r#"
DEFAULT_TTL_DAYS = 90


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
        return {"pk": round_pk(self.bucket, self.key), "sk": round_sk(self.etag)}


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

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (what ``imgpipe status`` prints)."""
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "status": self.status,
            "uploaded_at": self.uploaded_at,
            "size": self.size,
            "content_type": self.content_type,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "first_seen_at": self.first_seen_at,
            "updated_at": self.updated_at,
            "expected": list(self.expected),
            "processors": {
                p.name: {
                    "state": p.state,
                    "expected": p.expected,
                    "variant_count": p.variant_count,
                    "variants": [asdict(v) for v in p.variants],
                    "reason": p.rejection.reason if p.rejection else None,
                    "message": p.rejection.message if p.rejection else None,
                }
                for p in self.processors()
            },
            "email": {
                "sent_at": self.email_sent_at,
                "message_id": self.email_message_id,
                "subject": self.email_subject,
            },
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Round:
        """From a plain (deserialized) item."""
        variants, rejections = [], []
        for name, value in item.items():
            if name.startswith(VARIANT_PREFIX):
                variants.append(
                    VariantRecord(
                        processor=str(value["processor"]),
                        bucket=str(value["bucket"]),
                        key=str(value["key"]),
                        format=str(value["format"]),
                        width=int(value["width"]),
                        height=int(value["height"]),
                        bytes=int(value["bytes"]),
                        variant_count=int(value["variant_count"]),
                    )
                )
            elif name.startswith(REJECTION_PREFIX):
                rejections.append(RejectionRecord(str(value["processor"]), str(value["reason"]), str(value["message"])))

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

    def attributes(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def latest_of(rounds: Iterable[Round]) -> Round | None:
    """The newest round of an object. A superseded round is older than some other by definition;
    otherwise the S3 event time decides, or when that event was lost, when notify first heard."""
    return max(
        rounds,
        key=lambda r: (r.status != SUPERSEDED, r.uploaded_at or r.first_seen_at or ""),
        default=None,
    )


class Catalog(Protocol):
    """The catalog port. Every write is one atomic conditional update of one item."""

    def record_upload(self, upload: Upload, facts: UploadFacts, *, expected: list[str], now: datetime) -> Recorded: ...

    def record_variant(self, event: VariantCreated, *, expected: list[str], now: datetime) -> Recorded: ...

    def record_rejection(self, event: ImageRejected, *, expected: list[str], now: datetime) -> Recorded: ...

    def end_silently(self, ref: RoundRef, status: str, *, now: datetime) -> bool:
        """Set a silent final status unless the email was claimed; True if this call did it."""

    def claim_email(self, ref: RoundRef, status: str, *, token: str, now: datetime, stale_before: datetime) -> bool:
        """Claim the round's one email (and set its final status) before publishing. Succeeds when
        nobody claimed it, or when an earlier claim was never confirmed and is older than
        ``stale_before`` (its holder died between claim and publish)."""

    def confirm_email(self, ref: RoundRef, *, token: str, message_id: str, subject: str, now: datetime) -> bool: ...

    def release_email(self, ref: RoundRef, *, token: str, error: str, now: datetime) -> bool:
        """Give the claim back after a failed publish, so a retry can send."""

    def load(self, ref: RoundRef) -> Round | None: ...

    def rounds(self, bucket: str, key: str) -> list[Round]: ...


def _record_attrs(upload: Upload, expected: list[str], now: datetime) -> dict[str, Any]:
    return {
        "bucket": upload.bucket,
        "key": upload.key,
        "etag": upload.etag,
        "expected": list(expected),
        "first_seen_at": iso(now),
        "status": PROCESSING,
    }


def _variant_value(event: VariantCreated, now: datetime) -> dict[str, Any]:
    v = event.variant
    return {
        "processor": v.processor,
        "bucket": v.bucket,
        "key": v.key,
        "format": v.format,
        "width": v.width,
        "height": v.height,
        "bytes": v.bytes,
        "variant_count": event.variant_count,
        "settings_hash": event.settings_hash,
        "at": iso(now),
    }


def _rejection_value(event: ImageRejected, now: datetime) -> dict[str, Any]:
    return {"processor": event.processor, "reason": event.reason, "message": event.message, "at": iso(now)}


class _CatalogBase:
    """What both implementations share: the three event writes (each one ``_record``) and the
    read side that ``imgpipe status`` calls."""

    def _record(
        self, upload: Upload, attr: str, attrs: Mapping[str, Any], expected: list[str], now: datetime
    ) -> Recorded:
        """Write ``attrs`` unless ``attr`` is already there (a duplicate: then nothing changes)."""
        raise NotImplementedError

    def record_upload(self, upload: Upload, facts: UploadFacts, *, expected: list[str], now: datetime) -> Recorded:
        attrs = {"uploaded_at": facts.uploaded_at or iso(now), **facts.attributes()}
        return self._record(upload, "uploaded_at", attrs, expected, now)

    def record_variant(self, event: VariantCreated, *, expected: list[str], now: datetime) -> Recorded:
        attr = variant_attr(event.variant.processor, event.variant.key)
        return self._record(event.upload, attr, {attr: _variant_value(event, now)}, expected, now)

    def record_rejection(self, event: ImageRejected, *, expected: list[str], now: datetime) -> Recorded:
        attr = rejection_attr(event.processor)
        return self._record(event.upload, attr, {attr: _rejection_value(event, now)}, expected, now)

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


class DynamoCatalog(_CatalogBase):
    """The catalog on DynamoDB (low-level client; honours AWS_ENDPOINT_URL like every client)."""

    def __init__(self, table: str, *, ttl_days: int = DEFAULT_TTL_DAYS, dynamodb: Any | None = None) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table
        self.ttl_days = ttl_days
        self._client = dynamodb
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    @property
    def client(self) -> Any:
        from imgpipe.adapters import client

        return self._client or client("dynamodb")

    # --- plumbing -------------------------------------------------------------------------
    def _av(self, value: Any) -> dict[str, Any]:
        return self._ser.serialize(value)

    def _plain(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {k: self._de.deserialize(v) for k, v in item.items()}

    def _update(
        self,
        ref: RoundRef,
        sets: Mapping[str, Any],
        *,
        if_absent: Mapping[str, Any] | None = None,
        removes: Iterable[str] = (),
        condition: str | None = None,
        cond_values: Mapping[str, Any] | None = None,
        cond_names: Mapping[str, str] | None = None,
        return_new: bool = False,
    ) -> dict[str, Any] | None:
        """One UpdateItem. Attribute names are always placeholders (#a0...) because variant
        attribute names contain '#', '/' and any character a key may hold. In ``condition``,
        write ``{field}`` for each attribute named in ``cond_names`` (field -> attribute name). Returns the new
        item (or {}), or None when the condition failed."""
        from botocore.exceptions import ClientError

        names: dict[str, str] = {}
        values: dict[str, Any] = {}

        def name(n: str) -> str:
            for placeholder, existing in names.items():
                if existing == n:
                    return placeholder
            placeholder = f"#a{len(names)}"
            names[placeholder] = n
            return placeholder

        def value(v: Any) -> str:
            placeholder = f":v{len(values)}"
            values[placeholder] = self._av(v)
            return placeholder

        clauses = [f"{name(k)} = {value(v)}" for k, v in sets.items()]
        clauses += [f"{name(k)} = if_not_exists({name(k)}, {value(v)})" for k, v in (if_absent or {}).items()]
        expression = "SET " + ", ".join(clauses)
        removed = [name(k) for k in removes]
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "Key": {k: self._av(v) for k, v in ref.item_key.items()},
            "UpdateExpression": expression,
            "ReturnValues": "ALL_NEW" if return_new else "NONE",
        }
        if condition:
            mapping = {f: name(n) for f, n in (cond_names or {}).items()}
            cond = condition.format(**mapping)
            for placeholder, v in (cond_values or {}).items():
                values[placeholder] = self._av(v)
            kwargs["ConditionExpression"] = cond
        kwargs["ExpressionAttributeNames"] = names
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            response = self.client.update_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return self._plain(response.get("Attributes", {}))

    def _stamp(self, now: datetime) -> dict[str, Any]:
        return {"updated_at": iso(now), "expires_at": int(now.timestamp()) + self.ttl_days * 86400}

    def _record(
        self, upload: Upload, attr: str, attrs: Mapping[str, Any], expected: list[str], now: datetime
    ) -> Recorded:
        new = self._update(
            RoundRef.of(upload),
            {**attrs, **self._stamp(now)},
            if_absent=_record_attrs(upload, expected, now),
            condition="attribute_not_exists({attr})",
            cond_names={"attr": attr},
            return_new=True,
        )
        if new is not None:
            return Recorded(Round.from_item(new), fresh=True)
        existing = self.load(RoundRef.of(upload))
        if existing is None:  # pragma: no cover - the condition failed, so the item exists
            raise RuntimeError(f"catalog item for {upload.uri} vanished")
        return Recorded(existing, fresh=False)

    # --- writes ---------------------------------------------------------------------------
    def end_silently(self, ref: RoundRef, status: str, *, now: datetime) -> bool:
        done = self._update(
            ref,
            {"status": status, "ended_at": iso(now), **self._stamp(now)},
            condition="attribute_exists(pk) AND attribute_not_exists({email_sent_at}) AND {status} = :processing",
            cond_names={"email_sent_at": "email_sent_at", "status": "status"},
            cond_values={":processing": PROCESSING},
        )
        return done is not None

    def claim_email(self, ref: RoundRef, status: str, *, token: str, now: datetime, stale_before: datetime) -> bool:
        done = self._update(
            ref,
            {"status": status, "email_sent_at": iso(now), "email_claim": token, **self._stamp(now)},
            condition=(
                "attribute_exists(pk) AND NOT {status} IN (:superseded, :ignored) AND ("
                "attribute_not_exists({email_sent_at}) OR "
                "(attribute_not_exists({email_message_id}) AND {email_sent_at} < :stale))"
            ),
            cond_names={"status": "status", "email_sent_at": "email_sent_at", "email_message_id": "email_message_id"},
            cond_values={":superseded": SUPERSEDED, ":ignored": IGNORED, ":stale": iso(stale_before)},
        )
        return done is not None

    def confirm_email(self, ref: RoundRef, *, token: str, message_id: str, subject: str, now: datetime) -> bool:
        done = self._update(
            ref,
            {"email_message_id": message_id, "email_subject": subject, **self._stamp(now)},
            condition="{email_claim} = :token",
            cond_names={"email_claim": "email_claim"},
            cond_values={":token": token},
        )
        return done is not None

    def release_email(self, ref: RoundRef, *, token: str, error: str, now: datetime) -> bool:
        done = self._update(
            ref,
            {"email_last_error": error[:1000], **self._stamp(now)},
            removes=["email_sent_at", "email_claim"],
            condition="{email_claim} = :token AND attribute_not_exists({email_message_id})",
            cond_names={"email_claim": "email_claim", "email_message_id": "email_message_id"},
            cond_values={":token": token},
        )
        return done is not None

    # --- reads ----------------------------------------------------------------------------
    def load(self, ref: RoundRef) -> Round | None:
        r = self.client.get_item(
            TableName=self.table,
            Key={k: self._av(v) for k, v in ref.item_key.items()},
            ConsistentRead=True,
        )
        item = r.get("Item")
        return Round.from_item(self._plain(item)) if item else None

    def rounds(self, bucket: str, key: str) -> list[Round]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": self._av(round_pk(bucket, key))},
            ConsistentRead=True,
        )
        return [Round.from_item(self._plain(item)) for page in pages for item in page.get("Items", [])]


class MemoryCatalog(_CatalogBase):
    """The same port in memory, with the same conditions, for unit tests and dry runs."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _key(self, ref: RoundRef) -> tuple[str, str]:
        k = ref.item_key
        return k["pk"], k["sk"]

    def _record(
        self, upload: Upload, attr: str, attrs: Mapping[str, Any], expected: list[str], now: datetime
    ) -> Recorded:
        ref = RoundRef.of(upload)
        with self._lock:
            item = self.items.setdefault(self._key(ref), {**ref.item_key})
            if attr in item:
                return Recorded(Round.from_item(copy.deepcopy(item)), fresh=False)
            for k, v in _record_attrs(upload, expected, now).items():
                item.setdefault(k, v)
            item.update(copy.deepcopy(dict(attrs)))
            item["updated_at"] = iso(now)
            return Recorded(Round.from_item(copy.deepcopy(item)), fresh=True)

    def end_silently(self, ref: RoundRef, status: str, *, now: datetime) -> bool:
        with self._lock:
            item = self.items.get(self._key(ref))
            if item is None or "email_sent_at" in item or item.get("status") != PROCESSING:
                return False
            item.update({"status": status, "ended_at": iso(now), "updated_at": iso(now)})
            return True

    def claim_email(self, ref: RoundRef, status: str, *, token: str, now: datetime, stale_before: datetime) -> bool:
        with self._lock:
            item = self.items.get(self._key(ref))
            if item is None or item.get("status") in SILENT_STATUSES:
                return False
            sent_at = item.get("email_sent_at")
            stale = sent_at is not None and "email_message_id" not in item and sent_at < iso(stale_before)
            if sent_at is not None and not stale:
                return False
            item.update({"status": status, "email_sent_at": iso(now), "email_claim": token, "updated_at": iso(now)})
            return True

    def confirm_email(self, ref: RoundRef, *, token: str, message_id: str, subject: str, now: datetime) -> bool:
        with self._lock:
            item = self.items.get(self._key(ref))
            if item is None or item.get("email_claim") != token:
                return False
            item.update({"email_message_id": message_id, "email_subject": subject, "updated_at": iso(now)})
            return True

    def release_email(self, ref: RoundRef, *, token: str, error: str, now: datetime) -> bool:
        with self._lock:
            item = self.items.get(self._key(ref))
            if item is None or item.get("email_claim") != token or "email_message_id" in item:
                return False
            item.pop("email_sent_at", None)
            item.pop("email_claim", None)
            item.update({"email_last_error": error[:1000], "updated_at": iso(now)})
            return True

    def load(self, ref: RoundRef) -> Round | None:
        with self._lock:
            item = self.items.get(self._key(ref))
            return Round.from_item(copy.deepcopy(item)) if item else None

    def rounds(self, bucket: str, key: str) -> list[Round]:
        pk = round_pk(bucket, key)
        with self._lock:
            return [Round.from_item(copy.deepcopy(i)) for (p, _), i in self.items.items() if p == pk]


def create_table(dynamodb: Any, name: str) -> None:
    """Create the catalog table as the stack does (string ``pk``/``sk``, TTL on ``expires_at``),
    for the local stack and tests. Idempotent: a long-lived emulator may already have it, and
    enabling TTL twice is an error on AWS and LocalStack."""
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
