"""Typed events and their vocabulary: S3 "Object Created" in, "Variants Created" / "Image Rejected"
out (one per producer per upload, contract version 2), the completion events notify ends a round
with, and the mark a backfill puts on its events.
Triggers (imgpipe/manifest.py) build their rules' patterns from these names.

The shapes are documented, with a JSON example each, in ``docs/events.md``.
Facts coded against (docs/events.md): real AWS writes ``detail.object.etag``, moto
writes ``eTag``; the key may or may not be URL-encoded depending on the producer, so it is
kept exactly as given here and resolved against the bucket later (:mod:`imgpipe.keys`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from imgpipe.outputs import PUBLIC_ROLES, Role, role_of

# -- the vocabulary: every detail-type and source imgpipe puts on or reads from the bus ----------
#: detail-type of the S3 event we react to (moto also emits "Object Tags Added").
OBJECT_CREATED = "Object Created"
#: one per producer per upload: every output it wrote, each with its role
VARIANTS_CREATED = "Variants Created"
IMAGE_REJECTED = "Image Rejected"
#: the pipeline events' contract (``detail.version``): 2 is one event per producer per upload,
#: listing its outputs (docs/events.md). A reader refuses another version rather than misread it.
PIPELINE_EVENT_VERSION = 2
#: detail-type of S3's deletion event: a permanent delete, or a delete marker on a versioned
#: bucket (``detail.deletion-type`` tells which; moto sends neither that field nor, on a
#: versioned bucket, the event at all: docs/events.md)
OBJECT_DELETED = "Object Deleted"
PIPELINE_DETAIL_TYPES = (VARIANTS_CREATED, IMAGE_REJECTED)
#: every pipeline event's source is ``imgpipe.<processor>``.
PIPELINE_SOURCE_PREFIX = "imgpipe."
#: what the catalog keeper (notify) puts on the bus when it ends a round, one per round
#: (docs/events.md "Completion events"); a ``completions`` trigger reacts to them
UPLOAD_COMPLETED = "Upload Completed"
UPLOAD_PARTLY_COMPLETED = "Upload Partly Completed"
UPLOAD_REJECTED = "Upload Rejected"
#: a round moderation holds for review ends with this instead; "Upload Completed" (or "Partly
#: Completed") follows when a reviewer approves it (imgpipe review approve)
UPLOAD_HELD = "Upload Held"
COMPLETION_DETAIL_TYPES = (UPLOAD_COMPLETED, UPLOAD_PARTLY_COMPLETED, UPLOAD_REJECTED, UPLOAD_HELD)
#: their source, fixed: downstream rules match it, and only a role granted ``completion_events``
#: may put it (the grant's events:source condition)
COMPLETION_SOURCE = f"{PIPELINE_SOURCE_PREFIX}notify"
#: the field of an "Object Created" event's ``detail`` that marks a backfill's (docs/events.md
#: "From a backfill"); S3 never sends it
BACKFILL_MARKER = "imgpipe"
#: a backfill puts its "Object Created" events on the bus with this source (``aws.`` sources are
#: S3's own); each uploads rule matches them too, when the mark's ``targets`` names its service
BACKFILL_SOURCE = f"{PIPELINE_SOURCE_PREFIX}backfill"
#: the field of the mark naming the services a backfill's event is for
BACKFILL_TARGETS = "targets"


class EventError(ValueError):
    """The event is not one this code understands (a routing or wiring bug, not bad input)."""


def normalize_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


@dataclass(frozen=True)
class Upload:
    """Names one upload: bucket + key + etag (+ version id). Never the event id, which moto
    repeats for every event."""

    bucket: str
    key: str
    etag: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class ObjectCreated:
    upload: Upload
    size: int | None
    time: str
    reason: str | None = None


@dataclass(frozen=True)
class VariantInfo:
    """One output a processor wrote, with its declared role (imgpipe/outputs.py): each entry
    names its own, so a consumer never guesses what an output is from its format or key."""

    processor: str
    bucket: str
    key: str
    format: str
    width: int
    height: int
    bytes: int
    #: keyword-only: records that extend this (the catalog's) keep their positional fields
    role: str = field(default="", kw_only=True)

    @property
    def kind(self) -> Role:
        """Its role; an event or a record from before roles were declared has none (role_of)."""
        return role_of(self.role, self.format)

    @property
    def public(self) -> bool:
        """An image people may be given a link to (facts and sidecars never are)."""
        return self.kind in PUBLIC_ROLES


@dataclass(frozen=True)
class VariantsCreated:
    """Everything one producer wrote for one upload, in one event (contract version 2)."""

    upload: Upload
    processor: str
    #: every output, in the order written, each with its role
    variants: tuple[VariantInfo, ...]
    settings_hash: str
    #: the processor's facts about the upload (services/describe, services/moderate), a field of the
    #: event of their own (``detail.facts``); None for most
    facts: Mapping[str, Any] | None = None
    #: the processor holds the upload for review (services/moderate): notify records the round as
    #: held (a catalog state, never read back from the facts) until a reviewer decides
    hold: bool = False

    @property
    def variant_count(self) -> int:
        return len(self.variants)


@dataclass(frozen=True)
class ImageRejected:
    upload: Upload
    processor: str
    reason: str
    message: str


PipelineEvent = VariantsCreated | ImageRejected


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventError("event has no 'detail' object")
    return detail


def parse_object_created(event: dict[str, Any]) -> ObjectCreated:
    if event.get("detail-type") != OBJECT_CREATED:
        raise EventError(f"expected detail-type {OBJECT_CREATED!r}, got {event.get('detail-type')!r}")
    detail = _detail(event)
    try:
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key = obj["key"]
    except (KeyError, TypeError) as exc:
        raise EventError(f"Object Created event lacks {exc}") from None
    etag = normalize_etag(obj.get("etag") or obj.get("eTag"))
    size = obj.get("size")
    return ObjectCreated(
        upload=Upload(bucket, key, etag, obj.get("version-id") or obj.get("versionId")),
        size=int(size) if size is not None else None,
        time=_event_time(event.get("time", "")),
        reason=detail.get("reason"),
    )


def _event_time(value: Any) -> str:
    """The event's ``time`` as ISO 8601 UTC. EventBridge writes that; moto writes epoch seconds for
    an event put with PutEvents (a backfill's), which would not parse where the time is read back."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _upload_from(detail: dict[str, Any]) -> Upload:
    return Upload(detail["bucket"], detail["key"], detail["etag"], detail.get("version_id"))


_VARIANT_FIELDS = frozenset(VariantInfo.__dataclass_fields__)


def _variant_info(raw: Any) -> VariantInfo:
    # fields added later (role) are optional; unknown ones are a producer newer than this reader
    if not isinstance(raw, dict):
        raise TypeError("'variant' must be an object")
    return VariantInfo(**{k: v for k, v in raw.items() if k in _VARIANT_FIELDS})


def _facts(detail: dict[str, Any]) -> dict[str, Any] | None:
    # ``description`` is where producers before ``facts`` put them: an event in flight across an
    # upgrade still carries its facts
    for name in ("facts", "description"):
        if isinstance(detail.get(name), dict):
            return dict(detail[name])
    return None


def parse_pipeline_event(event: dict[str, Any]) -> PipelineEvent:
    detail = _detail(event)
    kind = event.get("detail-type")
    if kind in PIPELINE_DETAIL_TYPES and detail.get("version") != PIPELINE_EVENT_VERSION:
        raise EventError(f"{kind} event of contract version {detail.get('version')!r}, not {PIPELINE_EVENT_VERSION}")
    try:
        if kind == VARIANTS_CREATED:
            raw = detail["variants"]
            if not isinstance(raw, list) or not raw:
                raise TypeError("'variants' must be a non-empty list")
            return VariantsCreated(
                upload=_upload_from(detail),
                processor=detail["processor"],
                variants=tuple(_variant_info(v) for v in raw),
                settings_hash=detail.get("settings_hash", ""),
                facts=_facts(detail),
                hold=detail.get("hold") is True,
            )
        if kind == IMAGE_REJECTED:
            return ImageRejected(
                upload=_upload_from(detail),
                processor=detail["processor"],
                reason=detail["reason"],
                message=detail["message"],
            )
    except (KeyError, TypeError) as exc:
        raise EventError(f"{kind} event lacks or mistypes {exc}") from None
    raise EventError(f"not a pipeline event: detail-type {kind!r}")


def _upload_detail(upload: Upload) -> dict[str, Any]:
    detail: dict[str, Any] = {"bucket": upload.bucket, "key": upload.key, "etag": upload.etag}
    if upload.version_id:
        detail["version_id"] = upload.version_id
    return detail


def variants_created_detail(event: VariantsCreated) -> dict[str, Any]:
    return {
        "version": PIPELINE_EVENT_VERSION,
        **_upload_detail(event.upload),
        "processor": event.processor,
        "variants": [asdict(v) for v in event.variants],
        "variant_count": event.variant_count,
        "settings_hash": event.settings_hash,
        **({"facts": dict(event.facts)} if event.facts else {}),
        **({"hold": True} if event.hold else {}),
    }


def image_rejected_detail(event: ImageRejected) -> dict[str, Any]:
    return {
        "version": PIPELINE_EVENT_VERSION,
        **_upload_detail(event.upload),
        "processor": event.processor,
        "reason": event.reason,
        "message": event.message,
    }


def to_entry(event: PipelineEvent) -> tuple[str, dict[str, Any]]:
    """(detail-type, detail) for PutEvents."""
    if isinstance(event, VariantsCreated):
        return VARIANTS_CREATED, variants_created_detail(event)
    return IMAGE_REJECTED, image_rejected_detail(event)


@dataclass(frozen=True)
class BackfillMark:
    """What a backfill says about the event it sent (``detail.imgpipe``): its run, whether the
    usual email is wanted (``--notify``), and the producers it targeted (``--services``; empty:
    every one the key reaches). What a service does about it is the service's own rule."""

    run: str
    notify: bool = False
    services: tuple[str, ...] = ()

    def as_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"backfill": self.run, "notify": self.notify}
        if self.services:
            detail["services"] = sorted(self.services)
        return detail


def backfill_mark(event: Mapping[str, Any]) -> BackfillMark | None:
    """The event's backfill mark, or None for every event S3 sent (a real upload)."""
    detail = event.get("detail")
    raw = detail.get(BACKFILL_MARKER) if isinstance(detail, Mapping) else None
    if not isinstance(raw, Mapping) or not raw.get("backfill"):
        return None
    services = raw.get("services")
    return BackfillMark(
        run=str(raw["backfill"]),
        notify=bool(raw.get("notify", False)),
        services=tuple(s for s in services if isinstance(s, str)) if isinstance(services, list) else (),
    )
