"""Tells when an upload is finished, and how: from what the pipeline itself says.

It reads the same evidence an operator would: the pipeline events on the bus ("Variant
Created" / "Image Rejected", seen through the runtime's observer rule), the invocations that
ended in a failure DLQ (and later successes, after a redrive), and the emails in the outbox.
It does not trust notify's own bookkeeping, so a broken notify shows up here as an upload with
no email (``timeout``) or in notify's DLQ (``failed``), not as a false "completed".

An upload is terminal when every processor its key reaches (``expected_for_key``) has made all
its variants, rejected it, or failed into its DLQ, and (when a processor listens to pipeline
events, i.e. notify exists) its email has arrived, or something failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from imgpipe.errors import Reason
from imgpipe.events import (
    OBJECT_CREATED,
    OBJECT_DELETED,
    EventError,
    ImageRejected,
    Upload,
    VariantInfo,
    VariantsCreated,
    backfill_mark,
    parse_object_created,
    parse_pipeline_event,
)
from imgpipe.manifest import Manifest
from imgpipe.registry import expected_for_key, expected_producers_spec
from imgpipe_tools.local.invoker import Outcome
from imgpipe_tools.local.outbox import Email

COMPLETED, REJECTED, PARTIAL, FAILED, TIMEOUT = "completed", "rejected", "partial", "failed", "timeout"

UploadId = tuple[str, str]  # (key, etag)


@dataclass(frozen=True)
class UploadReport:
    key: str
    etag: str
    status: str
    variants: tuple[VariantInfo, ...] = ()
    rejections: tuple[tuple[str, str, str], ...] = ()  # (processor, reason, message)
    failures: tuple[tuple[str, str], ...] = ()  # (processor, error)
    emails: int = 0
    seconds: float = 0.0
    #: what a pending upload still waits for: processor names, or "email" (notify's)
    waiting_for: tuple[str, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.status != TIMEOUT

    def as_json(self) -> dict[str, Any]:
        """The ``imgpipe local run --json`` line (docs/local.md documents its fields; scripts read it)."""
        return {
            "key": self.key,
            "status": self.status,
            "variants": [
                {
                    "key": v.key,
                    "processor": v.processor,
                    "format": v.format,
                    "width": v.width,
                    "height": v.height,
                    "bytes": v.bytes,
                }
                for v in self.variants
            ],
            "rejections": [{"processor": p, "reason": r, "message": m} for p, r, m in self.rejections],
            "emails": self.emails,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class _Upload:
    key: str
    etag: str
    started: float
    expected: list[str]
    variants: dict[str, dict[str, VariantInfo]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    rejections: dict[str, tuple[str, str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    status: str = TIMEOUT
    finished: float | None = None
    #: False for a backfill run without --notify: finished without an email
    email_wanted: bool = True
    #: emails about the key sent before this upload (a deleted upload's, when this one came after it)
    emails_before: int = 0


def _upload_of(event: dict[str, Any]) -> Upload | None:
    try:
        if event.get("detail-type") == OBJECT_CREATED:
            return parse_object_created(event).upload
        return parse_pipeline_event(event).upload
    except EventError:
        return None


class Tracker:
    def __init__(
        self,
        manifests: Sequence[Manifest],
        on_terminal: Callable[[UploadReport], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = expected_producers_spec(manifests)
        # notify (any processor that listens to pipeline events) sends the email that ends an upload
        self.notifies = any(m.listens_to_pipeline for m in manifests)
        self.on_terminal = on_terminal or (lambda _r: None)
        self.clock = clock
        self._uploads: dict[UploadId, _Upload] = {}
        self._emails: list[Email] = []
        #: key -> emails about it before its last deletion (services/purge): a later upload of the
        #: key, even of the same bytes, is a new upload that waits for its own email
        self._deleted: dict[str, int] = {}
        self._changed = threading.Condition()

    # -- evidence -------------------------------------------------------------------
    def _get(self, key: str, etag: str) -> _Upload:
        upload = self._uploads.get((key, etag))
        if upload is None:
            upload = _Upload(key, etag, self.clock(), expected_for_key(self.spec, key))
            upload.emails_before = self._deleted.get(key, 0)
            self._uploads[(key, etag)] = upload
        return upload

    def expect(self, key: str, etag: str, started: float | None = None) -> None:
        """Register an upload (before its first event arrives, or after: either is fine)."""
        with self._changed:
            upload = self._get(key, etag)
            if started is not None:
                upload.started = min(upload.started, started)

    def on_event(self, event: dict[str, Any]) -> None:
        """An event from the observer queue: an upload, or a pipeline event about one."""
        with self._changed:
            if event.get("detail-type") == OBJECT_DELETED:
                self._forget(event)
                return
            if event.get("detail-type") == OBJECT_CREATED:
                try:
                    u = parse_object_created(event).upload
                except EventError:
                    return
                # an upload no producer handles is finished as soon as it exists
                self._refresh(self._get(u.key, u.etag))
            else:
                try:
                    parsed = parse_pipeline_event(event)
                except EventError:
                    return
                upload = self._get(parsed.upload.key, parsed.upload.etag)
                if isinstance(parsed, VariantsCreated):
                    proc = parsed.processor
                    for v in parsed.variants:
                        upload.variants.setdefault(proc, {})[v.key] = v
                    upload.counts[proc] = parsed.variant_count
                    upload.rejections.pop(proc, None)
                elif isinstance(parsed, ImageRejected):
                    upload.rejections[parsed.processor] = (parsed.reason, parsed.message)
                self._refresh(upload)

    def _forget(self, event: dict[str, Any]) -> None:
        """The upload was deleted: what was tracked under its key is over (a deletion is not an
        upload, and nothing waits for the purge)."""
        key = (event.get("detail") or {}).get("object", {}).get("key")
        if not isinstance(key, str):
            return
        self._deleted[key] = self._emails_for(key)
        for upload_id in [i for i in self._uploads if i[0] == key and self._uploads[i].status != TIMEOUT]:
            del self._uploads[upload_id]

    def on_outcome(self, outcome: Outcome) -> None:
        """An async invocation ended: in the DLQ (failure) or, e.g. after a redrive, fine."""
        u = _upload_of(outcome.event)
        if u is None:
            return
        with self._changed:
            upload = self._get(u.key, u.etag)
            # What the backfill asked for (docs/events.md "From a backfill"), read here from the
            # mark itself, not through notify's code: the tracker checks notify, it does not trust it.
            mark = backfill_mark(outcome.event)
            if mark is not None and not mark.notify:
                upload.email_wanted = False
            if mark is not None and mark.services:
                # a run with --services: the round waits only for the targeted producers
                upload.expected = [p for p in upload.expected if p in mark.services]
            if outcome.ok:
                upload.failures.pop(outcome.processor, None)
            else:
                upload.failures[outcome.processor] = f"{outcome.error_type}: {outcome.error_message}"
            self._refresh(upload)

    def reopen(self, processor: str, event: dict[str, Any]) -> None:
        """The event is being replayed from ``processor``'s DLQ: its failure no longer stands."""
        u = _upload_of(event)
        if u is None:
            return
        with self._changed:
            upload = self._get(u.key, u.etag)
            upload.failures.pop(processor, None)
            self._refresh(upload)

    def on_email(self, email: Email) -> None:
        with self._changed:
            self._emails.append(email)
            for upload in self._uploads.values():
                if email.mentions(upload.key):
                    self._refresh(upload)

    # -- verdict --------------------------------------------------------------------
    def _emails_for(self, key: str) -> int:
        return sum(1 for e in self._emails if e.mentions(key))

    def _processor_states(self, u: _Upload) -> dict[str, str]:
        """Each expected producer: failed (in its DLQ), rejected, completed, or "" (pending)."""
        states = {}
        for proc in u.expected:
            if proc in u.failures:
                states[proc] = FAILED
            elif proc in u.rejections:
                states[proc] = REJECTED
            elif proc in u.counts and len(u.variants.get(proc, {})) >= u.counts[proc]:
                states[proc] = COMPLETED
            else:
                states[proc] = ""
        return states

    def _needs_email(self, u: _Upload, states: dict[str, str]) -> bool:
        # notify stays silent when no producer handles the key, or when the object was
        # overwritten before processing (the newer upload gets the email)
        superseded = bool(states) and all(
            s == REJECTED and u.rejections[p][0] == Reason.SUPERSEDED for p, s in states.items()
        )
        return (
            self.notifies
            and u.email_wanted
            and bool(u.expected)
            and not superseded
            and self._emails_for(u.key) == u.emails_before
        )

    def _verdict(self, u: _Upload) -> tuple[str, tuple[str, ...]]:
        """The status, and what it still waits for (processor names, or "email")."""
        states = self._processor_states(u)
        pending = tuple(p for p, s in states.items() if not s)
        if pending:
            return TIMEOUT, pending
        if FAILED in states.values() or u.failures:
            return FAILED, ()
        if self._needs_email(u, states):
            return TIMEOUT, ("email",)  # every processor is done; notify has not told the uploader yet
        values = set(states.values())
        if values == {REJECTED}:
            return REJECTED, ()
        return (PARTIAL if REJECTED in values else COMPLETED), ()

    def _refresh(self, upload: _Upload) -> None:
        status, _ = self._verdict(upload)
        if status == upload.status:
            return
        upload.status = status
        upload.finished = self.clock() if status != TIMEOUT else None
        self._changed.notify_all()
        if status != TIMEOUT:
            self.on_terminal(self._report(upload))

    def _report(self, u: _Upload) -> UploadReport:
        end = u.finished if u.finished is not None else self.clock()
        variants = tuple(v for proc in sorted(u.variants) for _, v in sorted(u.variants[proc].items()))
        return UploadReport(
            key=u.key,
            etag=u.etag,
            status=u.status,
            variants=variants,
            rejections=tuple((p, r, m) for p, (r, m) in sorted(u.rejections.items())),
            failures=tuple(sorted(u.failures.items())),
            emails=self._emails_for(u.key) - u.emails_before,
            seconds=end - u.started,
            waiting_for=self._verdict(u)[1],
        )

    def report(self, key: str, etag: str) -> UploadReport:
        with self._changed:
            return self._report(self._get(key, etag))

    def reports(self) -> list[UploadReport]:
        with self._changed:
            return [self._report(u) for u in self._uploads.values()]

    def wait(self, uploads: Iterable[UploadId], timeout: float) -> list[UploadReport]:
        """Block until every upload is terminal or ``timeout`` seconds pass; one report each
        (status ``timeout`` for those still pending)."""
        ids = list(uploads)
        deadline = self.clock() + timeout
        with self._changed:
            # held here: a deletion of the key makes the tracker forget a finished upload
            tracked = [self._get(key, etag) for key, etag in ids]
            while True:
                pending = [u for u in tracked if u.status == TIMEOUT]
                remaining = deadline - self.clock()
                if not pending or remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.5))
            return [self._report(u) for u in tracked]
