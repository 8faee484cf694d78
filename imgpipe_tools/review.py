"""``imgpipe review approve|reject KEY``: a person's decision on an upload a processor's facts
hold for review (services/moderate, docs/moderation.md).

- **approve** keeps the decision in the catalog round (``review``); from then on ``imgpipe
  status`` and the API offer its variants again;
- **reject** deletes the upload's variants from the variants bucket, listed as the delete cascade
  lists them (services/purge: every top-level producer folder, the keys directly under
  ``<folder>/<key>/``), then keeps the decision: the round reads ``rejected`` and offers nothing.
  Variants first, as the purge does: if the catalog write then fails, the round is still held
  (nothing offered) and running the command again finishes it.

The upload itself stays in the uploads bucket: deleting it is the owner's call (and the purge's).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imgpipe.catalog import APPROVED, DELETED, REJECTED, Catalog, Round, latest_of
from imgpipe.errors import TransientError
from imgpipe.ports import Releaser
from imgpipe.variant_store import S3VariantStore, VariantStore, delete_upload_variants, release_round

__all__ = ["ReviewError", "Reviewed", "S3VariantStore", "delete_variants", "review"]


class ReviewError(Exception):
    """The decision cannot be taken (no such upload, not held, already rejected); said to the user."""


@dataclass(frozen=True)
class Reviewed:
    key: str
    etag: str
    decision: str
    held_by: tuple[str, ...]
    variants_deleted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "etag": self.etag,
            "decision": self.decision,
            "held_by": list(self.held_by),
            "variants_deleted": self.variants_deleted,
        }


def delete_variants(store: VariantStore, variants_bucket: str, key: str) -> int:
    """Every variant of the upload, as the delete cascade finds them; how many."""
    try:
        return delete_upload_variants(store, variants_bucket, key)
    except TransientError as exc:
        raise ReviewError(f"{exc}; run the command again to finish") from None


def _held_round(catalog: Catalog, bucket: str, key: str, etag: str | None) -> Round:
    rounds = catalog.rounds(bucket, key)
    found = next((r for r in rounds if r.etag == etag), None) if etag else latest_of(rounds)
    where = f"s3://{bucket}/{key}" + (f" (etag {etag})" if etag else "")
    if found is None:
        raise ReviewError(f"no record of {where} in the catalog (not uploaded yet, or expired)")
    if found.status == DELETED:
        raise ReviewError(f"{where} was deleted; there is nothing to review")
    if not found.held_by:
        raise ReviewError(f"{where} is not held for review (status {found.shown_status})")
    return found


def review(
    catalog: Catalog,
    store: VariantStore,
    *,
    bucket: str,
    variants_bucket: str,
    key: str,
    decision: str,
    now: datetime,
    etag: str | None = None,
    announce: Callable[[Round], None] | None = None,
    releaser: Releaser | None = None,
) -> Reviewed:
    """Approve or reject the newest round of ``key`` (or the round of ``etag``). ``announce`` is
    given the round once the decision is kept: it puts the event that follows the "Upload Held"
    one (the completion on approval, "Upload Rejected" on rejection: docs/events.md)."""
    r = _held_round(catalog, bucket, key, etag)
    if decision == APPROVED and r.review == REJECTED:
        raise ReviewError(f"s3://{bucket}/{key} was rejected and its variants deleted; upload it again to review it")
    deleted = delete_variants(store, variants_bucket, r.key) if decision == REJECTED else 0
    if decision == APPROVED and releaser is not None:
        # servable before the round reads approved: the API hands out links from then on (its
        # outputs were written held: imgpipe/outputs.py). Should the decision's write fail, they
        # are servable while the round still reads held: running the command again finishes it.
        release_round(releaser, r)
    # Rejecting again finds nothing left to delete, and the round already says rejected.
    if r.review != decision and not catalog.record_review(r.ref, decision, now=now):
        raise ReviewError(f"the catalog refused the decision on s3://{bucket}/{key} (deleted or rejected meanwhile?)")
    decided = catalog.load(r.ref)
    if announce is not None and decided is not None:
        # again on a repeated decision: the event's id is the round's, so a receiver drops the
        # repeat, and a put that failed the first time is made good
        announce(decided)
    return Reviewed(r.key, r.etag, decision, tuple(r.held_by), deleted)
