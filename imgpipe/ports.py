"""The I/O the processors need, as small ports. Adapters: :mod:`imgpipe.adapters` (boto3);
in-memory fakes for unit tests: :mod:`imgpipe_tools.testing.fakes`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imgpipe.errors import Reason
from imgpipe.events import PipelineEvent


class MetricsSink(Protocol):
    """Where a service's code counts things (Powertools' Metrics in Lambda; the CloudWatch
    namespace is the stack's, docs/observability.md)."""

    def add_metric(self, name: str, unit: str, value: float) -> None: ...


class NoMetrics:
    """A sink that drops every metric (the default of code run outside a handler: tests, tools)."""

    def add_metric(self, name: str, unit: str, value: float) -> None:
        return None


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    #: S3's x-amz-storage-class (absent means STANDARD)
    storage_class: str | None = None
    #: Intelligent-Tiering's x-amz-archive-status (ARCHIVE_ACCESS, DEEP_ARCHIVE_ACCESS)
    archive_status: str | None = None
    #: x-amz-restore: a restore of an archived object is under way or done
    restore: str | None = None

    @property
    def archived(self) -> bool:
        """Whether a GET would fail with InvalidObjectState until the object is restored."""
        if self.archive_status:
            return True
        if self.storage_class not in ARCHIVE_STORAGE_CLASSES:
            return False
        # a finished restore reads 'ongoing-request="false", expiry-date=...'
        return 'ongoing-request="false"' not in (self.restore or "")


#: storage classes whose objects need a restore before they can be read (Glacier Instant
#: Retrieval reads like Standard and is not here)
ARCHIVE_STORAGE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


@dataclass(frozen=True)
class Opened:
    """An object being read: what its GET's response headers say (``info``), its body not read
    yet. The caller looks at ``info`` (size, etag, metadata) and then reads the body, or closes it
    unread (an object over a size limit is never held in memory)."""

    info: ObjectInfo
    read: Callable[[], bytes]
    close: Callable[[], None] = lambda: None

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Storage(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Metadata of an object, or None when it does not exist."""

    def open(self, bucket: str, key: str, *, etag: str | None = None) -> Opened | None:
        """One GET: the object's metadata and its unread body, or None when it does not exist.
        With ``etag``, raise :class:`ObjectChanged` if it no longer matches; raise
        :class:`ObjectUnreadable` when it needs a restore or a customer's key."""

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> bytes:
        """The object's bytes. With ``etag``, raise :class:`ObjectChanged` if it no longer
        matches (the object was overwritten after the event)."""

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        cache_control: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None: ...


class Releaser(Protocol):
    def release(self, bucket: str, keys: Sequence[str]) -> None:
        """Make these outputs servable: remove the held mark they were written with, keeping their visibility (a missing
        object is skipped: deleted meanwhile). Idempotent."""


class EventPublisher(Protocol):
    def publish(self, source: str, events: Sequence[PipelineEvent]) -> None:
        """Put events on the bus; raise on any failed entry (the caller is retried)."""


class ObjectChanged(Exception):
    """The object's etag no longer matches the event's."""


class ObjectMissing(Exception):
    """The object does not exist (deleted between the event and the read)."""


class ObjectUnreadable(Exception):
    """The object exists but cannot be read with the function's credentials alone: it is
    encrypted with a customer-provided key (S3 answers HEAD and GET with 400), or archived
    (GET answers InvalidObjectState). ``reason`` is the rejection's reason code."""

    def __init__(self, key: str, reason: str, why: str) -> None:
        super().__init__(f"{key}: {why}")
        self.key = key
        self.reason = reason
        self.why = why

    @classmethod
    def customer_encrypted(cls, key: str) -> ObjectUnreadable:
        return cls(
            key, "customer_encrypted", "is encrypted with a customer-provided key (SSE-C) that imgpipe does not have"
        )

    @classmethod
    def archived(cls, key: str, archive: str | None = None) -> ObjectUnreadable:
        """``archive``: the storage class or Intelligent-Tiering tier S3 names, when it does."""
        where = f"the {archive} archive" if archive else "an archive storage class"
        return cls(key, Reason.ARCHIVED, f"is in {where}; restore it, then upload it again")
