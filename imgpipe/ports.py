"""The I/O the processors need, as small ports. Adapters: :mod:`imgpipe.adapters` (boto3);
in-memory fakes for unit tests: :mod:`imgpipe_tools.testing.fakes`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from imgpipe.events import PipelineEvent


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None


class Storage(Protocol):
    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """Metadata of an object, or None when it does not exist."""

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
    ) -> None: ...


class EventPublisher(Protocol):
    def publish(self, source: str, events: Sequence[PipelineEvent]) -> None:
        """Put events on the bus; raise on any failed entry (the caller is retried)."""


class ObjectChanged(Exception):
    """The object's etag no longer matches the event's."""


class ObjectMissing(Exception):
    """The object does not exist (deleted between the event and the read)."""
