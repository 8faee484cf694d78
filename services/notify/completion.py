"""The completion event of a round: what notify puts on the bus when it ends one.

One event per round, whether or not it sends an email: "Upload Completed", "Upload Partly
Completed" or "Upload Rejected" (source :data:`imgpipe.events.COMPLETION_SOURCE`), with the
round's summary. Its ``detail.id`` is derived from the round alone, so every put of the same
round's event (a retry after a failure between the put and the end of the round) carries the
same id, and a subscriber (the webhook service: ``webhook-id``) can drop the repeats.
Pure: no I/O. Shapes in docs/events.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgpipe.catalog import COMPLETED, DONE, FAILED, PARTIAL, REJECTED, Round
from imgpipe.catalog.schema import owner_of
from imgpipe.events import UPLOAD_COMPLETED, UPLOAD_HELD, UPLOAD_PARTLY_COMPLETED, UPLOAD_REJECTED
from imgpipe.keys import cdn_url

#: the detail-type of a round's completion event, by its final status
DETAIL_TYPES = {COMPLETED: UPLOAD_COMPLETED, PARTIAL: UPLOAD_PARTLY_COMPLETED, REJECTED: UPLOAD_REJECTED}
#: ids read ``evt_`` and 32 hex digits (128 bits of a SHA-256)
ID_PREFIX = "evt_"
_ID_HEX_DIGITS = 32
#: the version of the detail's shape; a change that removes or renames a field bumps it
SCHEMA_VERSION = 1
#: EventBridge takes entries up to 256 KiB (source, detail-type and detail together)
MAX_DETAIL_BYTES = 240 * 1024


@dataclass(frozen=True)
class Completion:
    detail_type: str
    detail: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.detail["id"])


def completion_id(r: Round) -> str:
    """The same for every put of one round's event: bucket, key and etag name the round; a round
    reopened by a new upload of the same bytes after a delete (docs/purge.md) is a new round, told
    apart by when it reopened. Nothing that may arrive late (the upload's own event, its version
    id) takes part, so a retry after such an arrival keeps the id."""
    identity = "\n".join((r.bucket, r.key, r.etag, r.reopened_at or ""))
    if r.held:
        # held, then approved or rejected by a reviewer: each is an event of its own (the
        # approval's is the round's completion, as if it had never been held)
        identity += "\nheld" if r.review is None else f"\nreview {r.review}"
    return ID_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:_ID_HEX_DIGITS]


def _present(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _descriptions(r: Round) -> dict[str, Any]:
    """What processors reported about the upload besides its variants (services/describe), by
    processor, when the catalog holds any; read defensively, the shape is theirs."""
    found = getattr(r, "descriptions", None)
    if not isinstance(found, Mapping):
        return {}
    return {str(name): dict(facts) for name, facts in found.items() if isinstance(facts, Mapping)}


def completion_event(r: Round, status: str, *, emailed: bool, delivery_url: str = "") -> Completion:
    """The event that ends round ``r`` with ``status`` (completed, partial or rejected).
    ``emailed``: whether the uploader gets the email (False for a backfill without --notify);
    ``delivery_url``: the front door's CDN, when deployed: each variant gets its ``url`` there."""
    states = [r.processor(n) for n in r.expected]
    done = [s for s in states if s.state == DONE]
    failed = [s for s in states if s.state == FAILED]
    detail: dict[str, Any] = {
        "id": completion_id(r),
        "schema": SCHEMA_VERSION,
        "status": status,
        **_present({"bucket": r.bucket, "key": r.key, "etag": r.etag, "version_id": r.version_id}),
        **_present({"owner": owner_of(r.key)}),
        "upload": _present(
            {
                "uploaded_at": r.uploaded_at,
                "size": r.size,
                "content_type": r.content_type,
                "format": r.format,
                "width": r.width,
                "height": r.height,
            }
        ),
        "processors": {s.name: s.state for s in states},
        "variants": [
            {
                "processor": v.processor,
                "bucket": v.bucket,
                "key": v.key,
                "format": v.format,
                "width": v.width,
                "height": v.height,
                "bytes": v.bytes,
                "role": v.kind.value,
                # facts and sidecars are never served: no URL for them
                **({"url": cdn_url(delivery_url, v.key, r.etag)} if delivery_url and v.public else {}),
            }
            for s in done
            for v in s.variants
            if not r.held  # a held upload's variants are not offered (docs/moderation.md)
        ],
        "rejections": [
            {"processor": s.name, "reason": s.rejection.reason, "message": s.rejection.message}
            for s in failed
            if s.rejection is not None
        ],
        "reasons": sorted({s.rejection.reason for s in failed if s.rejection is not None}),
        "emailed": emailed,
    }
    if r.held:
        detail["held"] = True
        if r.review is None:
            # held for review: "Upload Held"; the completion follows an approval
            detail["status"] = "held"
    descriptions = _descriptions(r)
    if descriptions:
        detail["descriptions"] = descriptions
    if r.held and r.review is None:
        return Completion(UPLOAD_HELD, _fitted(detail))
    return Completion(DETAIL_TYPES[status], _fitted(detail))


def _size(detail: Mapping[str, Any]) -> int:
    return len(json.dumps(detail, separators=(",", ":")).encode())


def _fitted(detail: dict[str, Any]) -> dict[str, Any]:
    """Within EventBridge's entry limit: an event that cannot be put would fail the round's email on
    every retry. What goes first is what the catalog still holds (``imgpipe status``): the
    descriptions, then the rejection messages, then the variants; ``truncated`` says so."""
    if _size(detail) <= MAX_DETAIL_BYTES:
        return detail
    detail = {**detail, "truncated": True}
    detail.pop("descriptions", None)
    if _size(detail) > MAX_DETAIL_BYTES:
        detail["rejections"] = [{**x, "message": x["message"][:200]} for x in detail["rejections"]]
    while _size(detail) > MAX_DETAIL_BYTES and detail["variants"]:
        detail["variants"] = detail["variants"][:-1]
    return detail
