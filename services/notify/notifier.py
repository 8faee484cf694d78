"""notify's notifier: believe the event or refuse it (trust.py), record it in the catalog, then
move the round on (see logic.py).

I/O goes through ports: the catalog (:mod:`imgpipe.catalog`), an :class:`~.ports.EmailSender`,
a link signer, the stack's event key (or, in a stack without one, a HEAD of each variant a
"Variants Created" names), and, for the upload event, a HEAD
of the uploaded object (:class:`Storage`) and its first bytes. Nothing here knows boto3: unit
tests pass in-memory fakes, and :func:`.wiring.from_config` passes the boto3 adapters.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from imgpipe.catalog import (
    COMPLETED,
    EMAIL_STATUSES,
    PARTIAL,
    PROCESSING,
    REJECTED,
    Catalog,
    Recorded,
    Round,
    UploadFacts,
    recorded_in,
)
from imgpipe.errors import TransientError
from imgpipe.events import (
    OBJECT_CREATED,
    VARIANTS_CREATED,
    ImageRejected,
    Upload,
    VariantInfo,
    VariantsCreated,
    backfill_mark,
    parse_object_created,
    parse_pipeline_event,
)
from imgpipe.keys import cdn_url, find_object
from imgpipe.ports import MetricsSink, NoMetrics, ObjectUnreadable, Releaser, Storage
from imgpipe.registry import expected_for_key
from imgpipe.variant_store import release_round

from .completion import completion_event
from .logic import EMAIL, END, WAIT, LinkFn, next_step, render_email
from .marks import email_wanted, expected_for
from .ports import CompletionSink, EmailSender, HeadReader, Log
from .probe import SourceFacts, probe
from .trust import Forgery, Home, Verdict, check_event

#: metric per final status of a round that sent its email
_ROUND_METRIC = {COMPLETED: "RoundsCompleted", PARTIAL: "RoundsPartial", REJECTED: "RoundsRejected"}
_CLAIM_POLL_S = 0.2
#: how often the notifier itself tries the write that confirms (or gives back) an email claim,
#: each try with botocore's own retries: once SNS has the email, a confirm that fails for good
#: is the one way to a second email (docs/notify.md "The one email")
_CLAIM_WRITE_TRIES = 4
_CLAIM_WRITE_BACKOFF_S = 0.25
#: what an email shows instead of a download link for a variant notify does not believe
NO_LINK = "(no download link: not where this upload's variants are made)"


def _event_time(raw: Any) -> str | None:
    """ISO 8601 UTC; EventBridge gives ISO, some emulators epoch seconds."""
    if raw in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(float(raw), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return str(raw)


@dataclass
class Notifier:
    catalog: Catalog
    sender: EmailSender
    link: LinkFn
    #: JSON from registry.expected_producers_spec: which processors a key reaches
    expected_spec: str
    #: this stack's buckets: an event about any other is not believed (trust.py)
    uploads_bucket: str
    variants_bucket: str
    #: HEAD of the uploaded object (key resolution, content type); None: trust the event
    uploads: Storage | None = None
    #: HEAD of a variant, to check it was made from the upload the event names: only in a stack
    #: without an event key (with one, the signature says so); None: skip that check (unit tests of
    #: other behaviour)
    variants: Storage | None = None
    #: the stack's event key (Need.EVENT_KEY), read once per cold start: pipeline events are believed
    #: by their signature (imgpipe/signing.py) and nothing else is asked of S3 about them
    event_key: Callable[[], bytes] | None = None
    #: (bucket, key, etag) -> the object's first bytes, or None (format and dimensions)
    read_head: HeadReader | None = None
    #: puts the round's completion event on the bus when the round ends (completion.py); None: none
    announcer: CompletionSink | None = None
    #: makes a round's outputs servable when it ends not held, in a deployment that writes them held
    #: (imgpipe/outputs.py); None: outputs are servable as written (no moderation: no call at all)
    releaser: Releaser | None = None
    #: the front door's CDN base URL (Need.DELIVERY_URL): the email links each variant there, with
    #: the upload's etag (links that never expire); empty (no front door): presigned links (``link``)
    delivery_url: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)
    metrics: MetricsSink = field(default_factory=NoMetrics)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    new_token: Callable[[], str] = lambda: uuid.uuid4().hex
    log: Log = field(default_factory=lambda: logging.getLogger("notify"))

    @cached_property
    def home(self) -> Home:
        key = self.event_key() if self.event_key is not None else None
        return Home.of(self.uploads_bucket, self.variants_bucket, self.expected_spec, key)

    @property
    def link_expiry_s(self) -> int:
        return int(self.settings.get("link_expiry_s", 86400))

    @property
    def claim_timeout_s(self) -> int:
        return int(self.settings.get("email_claim_timeout_s", 45))

    @property
    def claim_wait_s(self) -> float:
        return float(self.settings.get("email_claim_wait_s", 3))

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        verdict = self._verdict(event)
        if verdict is not None:
            return self._forged(event, verdict)
        return self._handle_believed(event)

    def _verdict(self, event: dict[str, Any]) -> Verdict | None:
        """Why the event is not believed, or None: checked before it touches the catalog or an email."""
        return check_event(event, self.home) or self._check_variant_object(event)

    def handle_together(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Producers' events of one round, as a batch brings them: each believed or refused on
        its own, the believed ones recorded in one conditional write and the round moved on once.
        When some were recorded before (repeats: the failed write returns the round as it is,
        no read), those are counted as repeats and the others recorded one by one, so a repeat
        is still recorded once and counted as one. One result per event, in their order (events
        recorded together share theirs)."""
        results: dict[int, dict[str, Any]] = {}
        believed: dict[int, dict[str, Any]] = {}
        for i, event in enumerate(events):
            verdict = self._verdict(event)
            if verdict is not None:
                results[i] = self._forged(event, verdict)
            else:
                believed[i] = event
        results.update(self._record_together(believed))
        return [results[i] for i in range(len(events))]

    def _record_together(self, believed: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
        if len(believed) < 2 or any(e.get("detail-type") == OBJECT_CREATED for e in believed.values()):
            return {i: self._handle_believed(e) for i, e in believed.items()}
        parsed: dict[int, VariantsCreated | ImageRejected] = {}
        for i, event in believed.items():
            p = parse_pipeline_event(event)
            assert isinstance(p, VariantsCreated | ImageRejected)
            parsed[i] = p
        first = next(iter(parsed.values()))
        expected = self._expected(first.upload.key)
        recorded = self.catalog.record_together(list(parsed.values()), expected=expected, now=self.clock())
        if recorded is None:
            return {i: self._handle_believed(e) for i, e in believed.items()}
        r = recorded.round
        if recorded.fresh:
            result = self._advance(r)
            if result.get("suppressed"):
                self.metrics.add_metric("DuplicatesSuppressed", "Count", 1)
            shared = {"key": r.key, "etag": r.etag, "fresh": True, "together": len(believed), **result}
            return {i: dict(shared) for i in believed}
        repeats = [i for i, p in parsed.items() if recorded_in(r, p)]
        self.metrics.add_metric("DuplicatesSuppressed", "Count", len(repeats))
        out = {i: self._handle_believed(e) for i, e in believed.items() if i not in repeats}
        if not out:
            # only repeats: the round moves on as a repeated event moves it (an email that an
            # earlier invocation claimed but did not send, a round that did not end)
            result = self._advance(r)
            return {i: {"key": r.key, "etag": r.etag, "fresh": False, **result} for i in repeats}
        return out | {i: {"key": r.key, "etag": r.etag, "fresh": False, "step": "nothing"} for i in repeats}

    def _handle_believed(self, event: dict[str, Any]) -> dict[str, Any]:
        recorded = self._record(event)
        r = recorded.round
        result = self._advance(r)
        # One count per invocation that changed nothing: a repeated event, or an email that
        # another invocation had already sent.
        if not recorded.fresh or result.get("suppressed"):
            self.metrics.add_metric("DuplicatesSuppressed", "Count", 1)
        elif event.get("detail-type") == OBJECT_CREATED:
            self.metrics.add_metric("UploadsReceived", "Count", 1)  # the dashboard's uploads
        return {"key": r.key, "etag": r.etag, "fresh": recorded.fresh, **result}

    # --- believing -------------------------------------------------------------------------
    def _check_variant_object(self, event: dict[str, Any]) -> Verdict | None:
        """In a stack without an event key only: a "Variants Created" that passed
        :func:`check_event` names keys where its producer writes; each object there must exist and
        say (its metadata, written by the runtime) that it was made by that producer from this
        upload's etag."""
        if self.variants is None or self.home.event_key is not None or event.get("detail-type") != VARIANTS_CREATED:
            return None
        parsed = parse_pipeline_event(event)
        assert isinstance(parsed, VariantsCreated)
        for v in parsed.variants:
            verdict = self._check_one(parsed, v)
            if verdict is not None:
                return verdict
        return None

    def _check_one(self, parsed: VariantsCreated, v: VariantInfo) -> Verdict | None:
        assert self.variants is not None
        info = self.variants.head(v.bucket, v.key)
        if info is None:
            return Verdict(Forgery.VARIANT_MISSING, f"no object s3://{v.bucket}/{v.key}")
        made_from, made_by = info.metadata.get("source-etag"), info.metadata.get("processor")
        if made_from != parsed.upload.etag or made_by != v.processor:
            # Also what an overwrite racing its own round looks like: the newer upload's
            # processor rewrote this key before this (older) event was handled. The newer round
            # sends the email about what is in the bucket now.
            return Verdict(
                Forgery.ETAG_MISMATCH,
                f"s3://{v.bucket}/{v.key} was made by {made_by!r} from etag {made_from!r}, "
                f"not by {v.processor!r} from {parsed.upload.etag!r}",
            )
        return None

    def _forged(self, event: dict[str, Any], verdict: Verdict) -> dict[str, Any]:
        """Counted and logged; nothing recorded, nothing sent, and no retry (returning normally:
        a forged event would fail the same way on every attempt)."""
        self.metrics.add_metric("ForgedEventsRejected", "Count", 1)
        self.metrics.add_metric(f"Forged_{verdict.reason.value}", "Count", 1)
        detail = event.get("detail") if isinstance(event.get("detail"), dict) else {}
        obj = detail.get("object") if isinstance(detail.get("object"), dict) else {}
        key, etag = detail.get("key", obj.get("key", "")), detail.get("etag", obj.get("etag", obj.get("eTag", "")))
        self.log.warning(
            "forged event rejected",
            extra={
                "reason": verdict.reason.value,
                "why": verdict.why[:1000],
                "event_source": str(event.get("source"))[:200],
                "event_detail_type": str(event.get("detail-type"))[:200],
                "event_account": str(event.get("account"))[:20],
            },
        )
        return {
            "key": str(key)[:1024],
            "etag": str(etag)[:64],
            "step": "forged",
            "reason": verdict.reason.value,
            "why": verdict.why[:1000],
        }

    def _guarded_link(self, r: Round) -> LinkFn:
        """Links only to keys this upload's variants can have (defence in depth: the catalog may
        hold records written before events were checked)."""

        def link(bucket: str, key: str) -> str:
            if any(self.home.is_variant_location(p, r.key, bucket, key) for p in self.home.producers):
                return cdn_url(self.delivery_url, key, r.etag) if self.delivery_url else self.link(bucket, key)
            return NO_LINK

        return link

    # --- recording ------------------------------------------------------------------------
    def _expected(self, key: str) -> list[str]:
        return expected_for_key(self.expected_spec, key)

    def _record(self, event: dict[str, Any]) -> Recorded:
        now = self.clock()
        if event.get("detail-type") == OBJECT_CREATED:
            created = parse_object_created(event)
            upload, facts = self._upload_facts(created.upload, created.size, created.time)
            mark = backfill_mark(event)
            if mark is not None:
                facts = replace(facts, notify=email_wanted(mark))
            expected = expected_for(mark, self._expected(upload.key))
            return self.catalog.record_upload(upload, facts, expected=expected, now=now)
        parsed = parse_pipeline_event(event)
        expected = self._expected(parsed.upload.key)
        if isinstance(parsed, ImageRejected):
            return self.catalog.record_rejection(parsed, expected=expected, now=now)
        return self.catalog.record_variants(parsed, expected=expected, now=now)

    def _upload_facts(self, upload: Upload, size: int | None, time_: str) -> tuple[Upload, UploadFacts]:
        """Names the upload by the key that exists in the bucket, as the processors do, so the
        upload event and the pipeline events land in the same round whatever the key encoding."""
        version = upload.version_id if upload.version_id not in (None, "", "null") else None
        facts = UploadFacts(_event_time(time_), size, None, version)
        if self.uploads is None:
            return upload, facts
        uploads = self.uploads
        try:
            info = find_object(upload.key, lambda k: uploads.head(upload.bucket, k))
        except ObjectUnreadable:
            return upload, facts  # SSE-C: the processors report customer_encrypted
        if info is None:
            return upload, facts  # deleted since: the processors report object_missing
        key = info.key
        upload = Upload(upload.bucket, key, upload.etag, upload.version_id)
        # Only describe the object if it is still this upload (not overwritten since).
        if info.etag != upload.etag:
            return upload, facts
        head = self.read_head(upload.bucket, key, upload.etag) if self.read_head else None
        source = probe(head) if head else SourceFacts()
        return upload, replace(facts, content_type=info.content_type, **asdict(source))

    # --- the round ------------------------------------------------------------------------
    def _advance(self, r: Round) -> dict[str, Any]:
        step = next_step(r)
        if step.kind == WAIT:
            return {"step": WAIT, "status": step.status, "why": step.why}
        if step.kind == END:
            announced = None
            if step.status in EMAIL_STATUSES and r.status == PROCESSING:
                # A round that ends with a result but no email (a backfill without --notify) is
                # announced all the same, before it is ended: a failed put raises, and the retry,
                # finding the round still open, puts the event (same id) again.
                self._release(r)
                announced = self._announce(r, step.status, emailed=False)
            ended = self.catalog.end_silently(r.ref, step.status, now=self.clock())
            result = {"step": END, "status": step.status, "why": step.why, "changed": ended}
            return {**result, "announced": announced} if announced else result
        if step.kind == EMAIL:
            # Servable before anything says it is finished: the claim writes the round's final
            # status, and the API answers ``completed`` (with its links) from that status.
            self._release(r)
            return self._email(r, step.status)
        return {"step": step.kind, "status": step.status, "why": step.why}

    def _email(self, r: Round, status: str) -> dict[str, Any]:
        """Claim the email, then send it. When another invocation holds the claim, wait briefly
        for it to confirm; if it does not, fail so that Lambda retries this event later, when
        the claim is either confirmed, released or stale enough to take over. Returning
        normally there could lose the email."""
        for attempt in range(self._claim_attempts):
            now = self.clock()
            token = self.new_token()
            stale_before = now - timedelta(seconds=self.claim_timeout_s)
            if self.catalog.claim_email(r.ref, status, token=token, now=now, stale_before=stale_before):
                return self._send(r, status, token, now)
            current = self.catalog.load(r.ref)
            step = next_step(current) if current else None
            if current is None or step is None or step.kind != EMAIL:
                return {"step": "nothing", "status": current.status if current else None, "suppressed": True}
            r, status = current, step.status
            if attempt + 1 < self._claim_attempts:
                self.sleep(_CLAIM_POLL_S)
        raise TransientError(f"the email for {r.ref} is claimed by another invocation and not sent yet")

    def _claim_write(self, write: Callable[[], bool]) -> bool:
        """A conditional write on our own claim (confirm or release), tried again on errors:
        its condition (the claim is still ours) makes a repeat harmless."""
        for attempt in range(_CLAIM_WRITE_TRIES):
            try:
                return write()
            except Exception:
                if attempt + 1 == _CLAIM_WRITE_TRIES:
                    raise
                self.sleep(_CLAIM_WRITE_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable")

    @property
    def _claim_attempts(self) -> int:
        return max(1, int(self.claim_wait_s / _CLAIM_POLL_S))

    def _send(self, r: Round, status: str, token: str, now: datetime) -> dict[str, Any]:
        try:
            expiry = None if self.delivery_url else self.link_expiry_s  # CDN links do not expire
            email = render_email(r, status, link=self._guarded_link(r), link_expiry_s=expiry, now=now)
            # Under the claim, before the email: a failure of either gives the claim back, and the
            # retry puts the event again with the same id (a subscriber drops the repeat). The
            # outputs were released before the claim: the links work when the event arrives.
            announced = self._announce(r, status, emailed=True)
            message_id = self.sender.send(email)
        except Exception as exc:
            # Give the claim back and fail: Lambda retries this event, and the retry sends.
            error = f"{type(exc).__name__}: {exc}"
            self._claim_write(lambda: self.catalog.release_email(r.ref, token=token, error=error, now=self.clock()))
            raise
        # Should this write fail for good, the email went out once anyway; the unconfirmed claim
        # is taken over after email_claim_timeout_s and the email sent again (docs/notify.md).
        # Botocore gives up at once when its retry quota is spent (a DynamoDB outage, many
        # throttles), so the notifier tries again itself before leaving that window open.
        self._claim_write(
            lambda: self.catalog.confirm_email(
                r.ref, token=token, message_id=message_id, subject=email.subject, now=self.clock()
            )
        )
        self.metrics.add_metric("EmailsSent", "Count", 1)
        self.metrics.add_metric(_ROUND_METRIC[status], "Count", 1)
        if r.uploaded_at:
            # upload-to-email latency, the pipeline's end-to-end figure on the dashboard
            waited = self.clock() - datetime.fromisoformat(r.uploaded_at)
            self.metrics.add_metric("UploadToEmailSeconds", "Seconds", max(waited.total_seconds(), 0.0))
        result = {"step": EMAIL, "status": status, "sent": True, "message_id": message_id, "subject": email.subject}
        return {**result, "announced": announced} if announced else result

    def _release(self, r: Round) -> None:
        """A round that ends not held: its outputs become servable. A held one stays unservable
        until a reviewer approves it (imgpipe review approve releases it)."""
        if self.releaser is not None and not r.held:
            release_round(self.releaser, r)

    def _announce(self, r: Round, status: str, *, emailed: bool) -> str | None:
        """Put the round's one completion event (docs/events.md); its id is the round's."""
        if self.announcer is None:
            return None
        completion = completion_event(r, status, emailed=emailed, delivery_url=self.delivery_url)
        self.announcer.put(completion)
        self.metrics.add_metric("CompletionEventsPut", "Count", 1)
        return completion.id
