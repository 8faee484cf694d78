"""In-memory fakes of the ports, for unit tests (no network, no moto)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from imgpipe.events import PipelineEvent
from imgpipe.ports import ObjectChanged, ObjectInfo, ObjectMissing


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    metadata: dict[str, str]
    cache_control: str | None
    etag: str


@dataclass
class FakeStorage:
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    puts: list[tuple[str, str]] = field(default_factory=list)
    gets: list[tuple[str, str]] = field(default_factory=list)

    def add(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self.objects[(bucket, key)] = StoredObject(data, content_type, {}, None, etag)
        return etag

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        obj = self.objects.get((bucket, key))
        if obj is None:
            return None
        return ObjectInfo(key, len(obj.data), obj.etag, dict(obj.metadata), obj.content_type)

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> bytes:
        self.gets.append((bucket, key))
        obj = self.objects.get((bucket, key))
        if obj is None:
            raise ObjectMissing(key)
        if etag and obj.etag != etag:
            raise ObjectChanged(key)
        return obj.data

    def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        cache_control: str | None = None,
    ) -> None:
        self.puts.append((bucket, key))
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self.objects[(bucket, key)] = StoredObject(data, content_type, dict(metadata), cache_control, etag)

    def keys(self, bucket: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket)


@dataclass
class FakePublisher:
    sent: list[tuple[str, PipelineEvent]] = field(default_factory=list)

    def publish(self, source: str, events: Sequence[PipelineEvent]) -> None:
        self.sent.extend((source, e) for e in events)
