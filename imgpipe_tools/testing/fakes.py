"""In-memory fakes of the ports, for unit tests (no network, no moto)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from imgpipe.events import PipelineEvent
from imgpipe.keys import MAX_KEY_BYTES, MAX_USER_METADATA_BYTES, metadata_bytes
from imgpipe.outputs import RELEASE_TAG
from imgpipe.ports import ObjectChanged, ObjectInfo, ObjectMissing, ObjectUnreadable, Opened


class S3LimitExceeded(Exception):
    """What S3 answers a PUT over its limits (KeyTooLongError, MetadataTooLarge): a 400 that
    retrying cannot fix. The fake enforces the limits so tests see what S3 would do."""


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    metadata: dict[str, str]
    cache_control: str | None
    etag: str
    storage_class: str | None = None
    archive_status: str | None = None
    restore: str | None = None
    #: encrypted with a customer-provided key: HEAD and GET answer 400 without it
    sse_c: bool = False


@dataclass
class FakeStorage:
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)
    puts: list[tuple[str, str]] = field(default_factory=list)
    #: one per GET sent (``open``, ``get``), whether or not its body was read
    opens: list[tuple[str, str]] = field(default_factory=list)
    #: one per body read: what a GET's caller held in memory
    gets: list[tuple[str, str]] = field(default_factory=list)
    #: one (bucket, keys) per delete_keys call
    deletes: list[tuple[str, list[str]]] = field(default_factory=list)
    #: each object's tags, as put (and as release leaves them)
    tags: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    #: one (bucket, keys) per release call
    releases: list[tuple[str, list[str]]] = field(default_factory=list)

    def release(self, bucket: str, keys: Sequence[str]) -> None:
        self.releases.append((bucket, list(keys)))
        for key in keys:
            if (bucket, key) in self.tags:
                self.tags[(bucket, key)] = {k: v for k, v in self.tags[(bucket, key)].items() if k != RELEASE_TAG}

    def add(
        self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream", **state: object
    ) -> str:
        """Store an upload; ``state`` sets StoredObject fields (``storage_class="GLACIER"``, ``sse_c=True``)."""
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self.objects[(bucket, key)] = StoredObject(data, content_type, {}, None, etag, **state)  # type: ignore[arg-type]
        return etag

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        obj = self.objects.get((bucket, key))
        if obj is None:
            return None
        if obj.sse_c:
            raise ObjectUnreadable.customer_encrypted(key)
        return self._info(key, obj)

    @staticmethod
    def _info(key: str, obj: StoredObject) -> ObjectInfo:
        return ObjectInfo(
            key,
            len(obj.data),
            obj.etag,
            dict(obj.metadata),
            obj.content_type,
            storage_class=obj.storage_class,
            archive_status=obj.archive_status,
            restore=obj.restore,
        )

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> bytes:
        opened = self.open(bucket, key, etag=etag)
        if opened is None:
            raise ObjectMissing(key)
        return opened.read()

    def open(self, bucket: str, key: str, *, etag: str | None = None) -> Opened | None:
        """As S3 answers a GET: missing, then the customer's key, the archive, the etag."""
        self.opens.append((bucket, key))
        obj = self.objects.get((bucket, key))
        if obj is None:
            return None
        if obj.sse_c:
            raise ObjectUnreadable.customer_encrypted(key)
        info = self._info(key, obj)
        if info.archived:
            raise ObjectUnreadable.archived(key, obj.archive_status or obj.storage_class)
        if etag and obj.etag != etag:
            raise ObjectChanged(key)

        def read() -> bytes:
            self.gets.append((bucket, key))
            return obj.data

        return Opened(info, read)

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
    ) -> None:
        if len(key.encode()) > MAX_KEY_BYTES:
            raise S3LimitExceeded(f"KeyTooLongError: {len(key.encode())} bytes")
        if metadata_bytes(metadata) > MAX_USER_METADATA_BYTES:
            raise S3LimitExceeded(f"MetadataTooLarge: {metadata_bytes(metadata)} bytes")
        self.puts.append((bucket, key))
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        self.objects[(bucket, key)] = StoredObject(data, content_type, dict(metadata), cache_control, etag)
        self.tags[(bucket, key)] = dict(tags or {})

    def keys(self, bucket: str) -> list[str]:
        return sorted(k for b, k in self.objects if b == bucket)

    # The variants bucket as the purge sees it (services/purge/ports.py).
    def list_folders(self, bucket: str, prefix: str = "") -> list[str]:
        """The "folders" directly under ``prefix``, as ListObjectsV2 with Delimiter "/" lists them."""
        rests = [k[len(prefix) :] for k in self.keys(bucket) if k.startswith(prefix)]
        return sorted({prefix + rest.split("/", 1)[0] + "/" for rest in rests if "/" in rest})

    def list_keys(self, bucket: str, prefix: str) -> list[str]:
        """Keys directly under ``prefix``, as ListObjectsV2 with Delimiter "/" lists them."""
        return [k for k in self.keys(bucket) if k.startswith(prefix) and "/" not in k[len(prefix) :]]

    def delete_keys(self, bucket: str, keys: Sequence[str]) -> None:
        if len(keys) > 1000:
            raise S3LimitExceeded(f"MalformedXML: DeleteObjects takes at most 1000 keys, got {len(keys)}")
        self.deletes.append((bucket, list(keys)))
        for key in keys:
            self.objects.pop((bucket, key), None)  # a missing key is no error, as in S3


@dataclass
class FakePublisher:
    sent: list[tuple[str, PipelineEvent]] = field(default_factory=list)

    def publish(self, source: str, events: Sequence[PipelineEvent]) -> None:
        self.sent.extend((source, e) for e in events)
