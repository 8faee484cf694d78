"""The purge's pure part: what an S3 "Object Deleted" means for the pipeline, and which keys
of the variants bucket were made from the deleted upload. No I/O (``purger.py`` does it).

What a deletion means (docs/purge.md):

- a **delete marker** (``deletion-type`` "Delete Marker Created"): the object is gone for every
  reader. Purge every variant of the key and mark every catalog round of it deleted;
- a **permanent delete** of a version (``"Permanently Deleted"``): on the versioned uploads
  bucket this is also how S3's lifecycle expires *old* versions, 30 days after an overwrite,
  while the current object lives on. Only the deletion of the version the catalog knows as the
  key's newest upload purges; an older version's round is marked deleted (its variants were
  overwritten by the newer upload's long ago); a version the catalog does not know is left
  alone (purging could destroy the current upload's variants);
- a permanent delete with no version (``"null"``: a bucket without versioning, such as the
  local stack's, whose moto sends no ``deletion-type`` at all): the object is gone. Purge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imgpipe.catalog import DELETED, Round, latest_of
from imgpipe.events import OBJECT_DELETED, EventError

DELETE_MARKER_CREATED = "Delete Marker Created"
PERMANENTLY_DELETED = "Permanently Deleted"


@dataclass(frozen=True)
class Deletion:
    """One S3 "Object Deleted" event."""

    bucket: str
    key: str
    #: the deleted version, or the new delete marker's; "null" or None without versioning
    version_id: str | None
    #: DELETE_MARKER_CREATED, PERMANENTLY_DELETED, or None (moto sends none)
    deletion_type: str | None
    #: S3's time of the deletion (the event's ``time``)
    time: str | None
    #: "DeleteObject" or "Lifecycle Expiration" (moto: "ObjectRemoved")
    reason: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_deletion(event: dict[str, Any]) -> Deletion:
    if event.get("source") != "aws.s3" or event.get("detail-type") != OBJECT_DELETED:
        raise EventError(
            f"expected an S3 {OBJECT_DELETED!r}, got {event.get('detail-type')!r} from {event.get('source')!r}"
        )
    detail = event.get("detail")
    try:
        bucket = detail["bucket"]["name"]  # type: ignore[index]
        obj = detail["object"]  # type: ignore[index]
        key = obj["key"]
    except (KeyError, TypeError) as exc:
        raise EventError(f"Object Deleted event lacks {exc}") from None
    if not isinstance(bucket, str) or not isinstance(key, str) or not key:
        raise EventError("Object Deleted event names no bucket or key")
    return Deletion(
        bucket=bucket,
        key=key,
        version_id=obj.get("version-id") or obj.get("versionId"),
        deletion_type=detail.get("deletion-type"),
        time=str(event["time"]) if event.get("time") else None,
        reason=detail.get("reason"),
    )


# What to do about a deletion
PURGE = "purge"  # delete every variant of the key, mark every round deleted
MARK_VERSION = "mark_version"  # mark the round of the deleted version only
IGNORE = "ignore"  # nothing: the deletion leaves the key's current upload as it was


@dataclass(frozen=True)
class Plan:
    action: str
    why: str
    #: MARK_VERSION: the version whose round is marked
    version_id: str | None = None


def _real_version(version_id: str | None) -> str | None:
    return version_id if version_id not in (None, "", "null") else None


def plan(deletion: Deletion, rounds: Sequence[Round]) -> Plan:
    """What the deletion means, from the event and what the catalog knows of the key."""
    if deletion.deletion_type == DELETE_MARKER_CREATED:
        return Plan(PURGE, "a delete marker hides the object")
    version = _real_version(deletion.version_id)
    if version is None:
        return Plan(PURGE, "the object is deleted (no versioning)")
    newest = latest_of(r for r in rounds if r.status != DELETED)
    if newest is not None and newest.version_id == version:
        return Plan(PURGE, f"version {version} was the key's newest upload")
    if any(r.version_id == version and r.status != DELETED for r in rounds):
        why = f"version {version} is an older upload of the key; its variants were replaced since"
        return Plan(MARK_VERSION, why, version)
    if any(r.version_id == version for r in rounds):
        return Plan(IGNORE, f"version {version} was deleted before")
    return Plan(IGNORE, f"version {version} is not an upload the catalog knows (an expired old version?)")
