"""The catalog port in memory, with the same conditions as DynamoDB, for unit tests and
anything else that needs no AWS. A test double: it lives here so the layer never ships it.
``tests/integration/test_notify_catalog.py`` runs the same assertions on it and on
``DynamoCatalog`` (under moto), which keeps the two in step.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from imgpipe.catalog import (
    DELETED,
    EMAIL_ATTRIBUTES,
    PARTITION_KEY,
    PROCESSING,
    RECORD_PREFIXES,
    REJECTED,
    REVIEW_DECISIONS,
    SILENT_STATUSES,
    SORT_KEY,
    UPLOAD_FACT_ATTRIBUTES,
    CatalogBase,
    Recorded,
    Round,
    RoundRef,
    iso,
    round_pk,
)
from imgpipe.events import Upload


class MemoryCatalog(CatalogBase):
    """The catalog port in memory, with the same conditions as :class:`DynamoCatalog`."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _key(self, ref: RoundRef) -> tuple[str, str]:
        k = ref.item_key
        return k[PARTITION_KEY], k[SORT_KEY]

    def _record(
        self, upload: Upload, marks: Sequence[str], attrs: Mapping[str, Any], initial: Mapping[str, Any], now: datetime
    ) -> Recorded:
        ref = RoundRef.of(upload)
        with self._lock:
            item = self.items.setdefault(self._key(ref), {**ref.item_key})
            if any(mark in item for mark in marks):
                return Recorded(Round.from_item(copy.deepcopy(item)), fresh=False)
            for k, v in initial.items():
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

    def mark_deleted(
        self, bucket: str, key: str, *, now: datetime, deleted_at: str | None = None, version_id: str | None = None
    ) -> list[RoundRef]:
        pk = round_pk(bucket, key)
        marked = []
        with self._lock:
            for (p, _), item in self.items.items():
                r = Round.from_item(item)
                if p != pk or (version_id is not None and r.version_id != version_id):
                    continue
                for name in [n for n in item if n.startswith(RECORD_PREFIXES)]:
                    del item[name]
                item.setdefault("deleted_at", deleted_at or iso(now))
                item.update({"status": DELETED, "updated_at": iso(now)})
                marked.append(r.ref)
        return marked

    def record_review(self, ref: RoundRef, decision: str, *, now: datetime) -> bool:
        if decision not in REVIEW_DECISIONS:
            raise ValueError(f"a review decides one of {REVIEW_DECISIONS}, not {decision!r}")
        with self._lock:
            item = self.items.get(self._key(ref))
            if item is None or item.get("status") == DELETED or item.get("review") == REJECTED:
                return False
            item.update({"review": decision, "reviewed_at": iso(now), "updated_at": iso(now)})
            return True

    def _reopen(self, ref: RoundRef, *, now: datetime) -> bool:
        with self._lock:
            item = self.items.get(self._key(ref))
            if item is None or item.get("status") != DELETED:
                return False
            for name in ("deleted_at", "ended_at", *EMAIL_ATTRIBUTES, *UPLOAD_FACT_ATTRIBUTES):
                item.pop(name, None)
            item.update({"status": PROCESSING, "reopened_at": iso(now), "updated_at": iso(now)})
            return True

    def load(self, ref: RoundRef) -> Round | None:
        with self._lock:
            item = self.items.get(self._key(ref))
            return Round.from_item(copy.deepcopy(item)) if item else None

    def rounds(self, bucket: str, key: str) -> list[Round]:
        pk = round_pk(bucket, key)
        with self._lock:
            return [Round.from_item(copy.deepcopy(i)) for (p, _), i in self.items.items() if p == pk]
