"""notify's service: record each event in the catalog, then move the round on (see logic.py).

I/O goes through ports: the catalog (:mod:`imgpipe.catalog`), an :class:`EmailSender`, a
link signer and, for the upload event, a HEAD of the uploaded object (:class:`Storage`).
Unit tests pass in-memory fakes; :func:`from_config` builds the boto3 ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from imgpipe.catalog import (
    COMPLETED,
    DEFAULT_TTL_DAYS,
    PARTIAL,
    REJECTED,
    Catalog,
    DynamoCatalog,
    Recorded,
    Round,
    UploadFacts,
)
from imgpipe.config import Config
from imgpipe.errors import TransientError
from imgpipe.events import ImageRejected, Upload, parse_object_created, parse_pipeline_event
from imgpipe.keys import find_object
from imgpipe.manifest import OBJECT_CREATED
from imgpipe.ports import Storage
from imgpipe.registry import expected_for_key

from .logic import EMAIL, END, WAIT, Email, LinkFn, next_step, render_email
from .probe import HEAD_BYTES, SourceFacts, probe

#: metric per final status of a round that sent its email
_ROUND_METRIC = {COMPLETED: "RoundsCompleted", PARTIAL: "RoundsPartial", REJECTED: "RoundsRejected"}
_CLAIM_POLL_S = 0.2


class EmailSender(Protocol):
    def send(self, email: Email) -> str:
        """Publish the email; return the message id. Raise on failure."""


class MetricsSink(Protocol):
    def add_metric(self, name: str, unit: str, value: float) -> None: ...


class _NoMetrics:
    def add_metric(self, name: str, unit: str, value: float) -> None:
        return None


class SnsSender:
    """Publishes to the notification topic; email subscribers get subject + body."""

    def __init__(self, topic_arn: str, sns: Any | None = None) -> None:
        self.topic_arn = topic_arn
        self._sns = sns

    def send(self, email: Email) -> str:
        from imgpipe.adapters import client

        attributes = {
            name: (
                {"DataType": "String.Array", "StringValue": json.dumps(value)}
                if isinstance(value, list)
                else {"DataType": "String", "StringValue": value}
            )
            for name, value in email.attributes.items()
        }
        sns = self._sns or client("sns")
        r = sns.publish(
            TopicArn=self.topic_arn, Subject=email.subject, Message=email.body, MessageAttributes=attributes
        )
        return str(r["MessageId"])


#: SigV4 presigned URLs are valid for at most 7 days.
MAX_LINK_EXPIRY_S = 7 * 86400


def s3_links(expiry_s: int, s3: Any | None = None) -> LinkFn:
    """Presigned GET links, signed locally (no request). A link never outlives the credentials
    that signed it: in Lambda those are the role's session credentials (docs/notify.md)."""
    signer: list[Any] = [s3] if s3 is not None else []

    def link(bucket: str, key: str) -> str:
        if not signer:
            import boto3
            from botocore.config import Config as BotoConfig

            # SigV4 explicitly: botocore still presigns S3 with the legacy SigV2 by default in
            # some regions. Created on first use: only an invocation that sends an email signs.
            signer.append(boto3.client("s3", config=BotoConfig(signature_version="s3v4")))
        return signer[0].generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=min(expiry_s, MAX_LINK_EXPIRY_S)
        )

    return link


#: (bucket, key, etag) -> the object's first bytes, or None
HeadReader = Callable[[str, str, str], bytes | None]


def s3_head_reader(s3: Any | None = None) -> HeadReader:
    """Reads the first HEAD_BYTES of an upload with a ranged GET, only if it still has the
    event's etag. Any error gives None: these facts are optional, never worth a retry."""

    def read(bucket: str, key: str, etag: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        from imgpipe.adapters import client

        try:
            r = (s3 or client("s3")).get_object(
                Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}", IfMatch=f'"{etag}"'
            )
            return r["Body"].read()
        except (BotoCoreError, ClientError):
            return None

    return read


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
    #: HEAD of the uploaded object (key resolution, content type); None: trust the event
    uploads: Storage | None = None
    #: (bucket, key, etag) -> the object's first bytes, or None (format and dimensions)
    read_head: HeadReader | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    metrics: MetricsSink = field(default_factory=_NoMetrics)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] = time.sleep
    new_token: Callable[[], str] = lambda: uuid.uuid4().hex

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
        recorded = self._record(event)
        r = recorded.round
        result = self._advance(r)
        # One count per invocation that changed nothing: a repeated event, or an email that
        # another invocation had already sent.
        if not recorded.fresh or result.get("suppressed"):
            self.metrics.add_metric("DuplicatesSuppressed", "Count", 1)
        return {"key": r.key, "etag": r.etag, "fresh": recorded.fresh, **result}

    # --- recording ------------------------------------------------------------------------
    def _expected(self, key: str) -> list[str]:
        return expected_for_key(self.expected_spec, key)

    def _record(self, event: dict[str, Any]) -> Recorded:
        now = self.clock()
        if event.get("detail-type") == OBJECT_CREATED:
            created = parse_object_created(event)
            upload, facts = self._upload_facts(created.upload, created.size, created.time)
            return self.catalog.record_upload(upload, facts, expected=self._expected(upload.key), now=now)
        parsed = parse_pipeline_event(event)
        expected = self._expected(parsed.upload.key)
        if isinstance(parsed, ImageRejected):
            return self.catalog.record_rejection(parsed, expected=expected, now=now)
        return self.catalog.record_variant(parsed, expected=expected, now=now)

    def _upload_facts(self, upload: Upload, size: int | None, time_: str) -> tuple[Upload, UploadFacts]:
        """Names the upload by the key that exists in the bucket, as the processors do, so the
        upload event and the pipeline events land in the same round whatever the key encoding."""
        version = upload.version_id if upload.version_id not in (None, "", "null") else None
        facts = UploadFacts(_event_time(time_), size, None, version)
        if self.uploads is None:
            return upload, facts
        uploads = self.uploads
        info = find_object(upload.key, lambda k: uploads.head(upload.bucket, k))
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
            ended = self.catalog.end_silently(r.ref, step.status, now=self.clock())
            return {"step": END, "status": step.status, "why": step.why, "changed": ended}
        if step.kind == EMAIL:
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

    @property
    def _claim_attempts(self) -> int:
        return max(1, int(self.claim_wait_s / _CLAIM_POLL_S))

    def _send(self, r: Round, status: str, token: str, now: datetime) -> dict[str, Any]:
        try:
            email = render_email(r, status, link=self.link, link_expiry_s=self.link_expiry_s, now=now)
            message_id = self.sender.send(email)
        except Exception as exc:
            # Give the claim back and fail: Lambda retries this event, and the retry sends.
            self.catalog.release_email(r.ref, token=token, error=f"{type(exc).__name__}: {exc}", now=self.clock())
            raise
        # Should this write fail, the email went out once anyway; the unconfirmed claim is only
        # taken over after email_claim_timeout_s (docs/notify.md).
        self.catalog.confirm_email(r.ref, token=token, message_id=message_id, subject=email.subject, now=self.clock())
        self.metrics.add_metric("EmailsSent", "Count", 1)
        self.metrics.add_metric(_ROUND_METRIC[status], "Count", 1)
        return {"step": EMAIL, "status": status, "sent": True, "message_id": message_id, "subject": email.subject}


def from_config(config: Config, metrics: MetricsSink) -> Notifier:
    """The boto3-backed notifier for a deployed (or locally emulated) notify function."""
    from imgpipe.adapters import S3Storage

    settings = dict(config.settings)
    return Notifier(
        catalog=DynamoCatalog(config.catalog_table, ttl_days=int(settings.get("catalog_ttl_days", DEFAULT_TTL_DAYS))),
        sender=SnsSender(config.topic_arn),
        link=s3_links(int(settings.get("link_expiry_s", 86400))),
        expected_spec=config.expected_producers,
        uploads=S3Storage(),
        read_head=s3_head_reader(),
        settings=settings,
        metrics=metrics,
    )
