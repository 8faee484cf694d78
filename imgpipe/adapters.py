"""boto3 adapters for the ports. Clients honour ``AWS_ENDPOINT_URL`` (botocore does), which
is how the same code talks to AWS, to the embedded moto server, or to LocalStack."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import urlencode

from imgpipe.errors import TransientError
from imgpipe.events import PipelineEvent, normalize_etag, to_entry
from imgpipe.outputs import RELEASE_TAG
from imgpipe.ports import ObjectChanged, ObjectInfo, ObjectMissing, ObjectUnreadable, Opened
from imgpipe.signing import signed

# PutEvents takes at most 10 entries per call.
_PUT_EVENTS_BATCH = 10

#: called with every new client; empty in Lambda. Developer tooling that must reach inside
#: the clients (fault injection, which never ships in the layer) adds itself here.
_client_hooks: list[Callable[[Any], None]] = []


def add_client_hook(hook: Callable[[Any], None]) -> None:
    """Run ``hook(client)`` on every client made from now on (drops the cached ones)."""
    if hook not in _client_hooks:
        _client_hooks.append(hook)
    client.cache_clear()


@cache
def client(service: str) -> Any:
    """One client per service per process (warm Lambda invocations reuse it)."""
    import boto3
    from botocore.config import Config

    # Standard mode retries throttling and 5xx with backoff before our own retry layer.
    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 4}}
    if service == "s3":
        # Requests are SigV4 anyway; this makes presigned links SigV4 too (notify's emails),
        # which botocore still signs with the legacy SigV2 by default.
        options["signature_version"] = "s3v4"
        if not (os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")):
            # Regional virtual-hosted URLs (<bucket>.s3.<region>.amazonaws.com): botocore's default
            # for presigning is the global host, which S3 answers for a new bucket outside us-east-1
            # with a redirect that a browser's CORS preflight (the API's uploads) cannot follow.
            # An emulator's endpoint keeps botocore's path style.
            options["s3"] = {"addressing_style": "virtual"}
    c = boto3.client(service, config=Config(**options))
    for hook in _client_hooks:
        hook(c)
    return c


def _error_code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _object_info(key: str, r: Mapping[str, Any]) -> ObjectInfo:
    """What a HEAD's or a GET's response headers say about the object."""
    return ObjectInfo(
        key=key,
        size=int(r["ContentLength"]),
        etag=normalize_etag(r.get("ETag")),
        metadata=r.get("Metadata", {}),
        content_type=r.get("ContentType"),
        storage_class=r.get("StorageClass"),
        archive_status=r.get("ArchiveStatus"),
        restore=r.get("Restore"),
    )


class S3Storage:
    def __init__(self, s3: Any | None = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            r = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            # A HEAD has no body to be malformed: S3 answers 400 when the object needs the
            # customer's SSE-C key. Retrying can never succeed.
            if code in ("400", "BadRequest"):
                raise ObjectUnreadable.customer_encrypted(key) from exc
            raise
        return _object_info(key, r)

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> bytes:
        opened = self.open(bucket, key, etag=etag)
        if opened is None:
            raise ObjectMissing(key)
        with opened:
            return opened.read()

    def open(self, bucket: str, key: str, *, etag: str | None = None) -> Opened | None:
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if etag:
            kwargs["IfMatch"] = f'"{etag}"'
        try:
            r = self.s3.get_object(**kwargs)
        except ClientError as exc:
            code = _error_code(exc)
            if code in ("NoSuchKey", "404"):
                return None
            if code in ("PreconditionFailed", "412"):
                raise ObjectChanged(key) from exc
            if code == "InvalidObjectState":
                # S3's error names the class (GLACIER, DEEP_ARCHIVE) or Intelligent-Tiering's tier
                error = exc.response.get("Error", {})
                raise ObjectUnreadable.archived(key, error.get("AccessTier") or error.get("StorageClass")) from exc
            if code in ("400", "BadRequest", "InvalidRequest"):
                raise ObjectUnreadable.customer_encrypted(key) from exc
            raise
        body = r["Body"]
        return Opened(_object_info(key, r), body.read, body.close)

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
        kwargs: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": data,
            "ContentType": content_type,
            "Metadata": dict(metadata),
        }
        if cache_control:
            kwargs["CacheControl"] = cache_control
        if tags:
            kwargs["Tagging"] = urlencode(dict(tags))
        self.s3.put_object(**kwargs)

    def release(self, bucket: str, keys: Sequence[str]) -> None:
        from botocore.exceptions import ClientError

        for key in keys:
            try:
                # only the held mark goes: the visibility tag is what lets the CDN serve it
                tags = self.s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
                kept = [t for t in tags if t["Key"] != RELEASE_TAG]
                if len(kept) == len(tags):
                    continue
                self.s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": kept})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise


#: secret values read by this process, by ARN: once per cold start however often a handler is wired
_secrets: dict[str, bytes] = {}


def stack_secret(arn: str) -> Callable[[], bytes]:
    """The secret ``arn``'s value as bytes, read on first use and kept for the process's life
    (once per cold start: a rotation reaches a function when it is next started)."""

    def value() -> bytes:
        if arn not in _secrets:
            _secrets[arn] = str(client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]).encode()
        return _secrets[arn]

    return value


class EventBridgePublisher:
    """Puts a producer's events on the bus, each signed with the stack's event key when given
    (imgpipe/signing.py: notify believes a pipeline event by its signature)."""

    def __init__(
        self, bus_name: str = "default", events: Any | None = None, key: Callable[[], bytes] | None = None
    ) -> None:
        self.bus_name = bus_name
        self._events = events
        self._key = key

    @property
    def events(self) -> Any:
        return self._events or client("events")

    def publish(self, source: str, events: Sequence[PipelineEvent]) -> None:
        entries = []
        for event in events:
            detail_type, detail = to_entry(event)
            if self._key is not None:
                detail = signed(self._key(), source, detail_type, detail)
            entries.append(
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.bus_name,
                }
            )
        for i in range(0, len(entries), _PUT_EVENTS_BATCH):
            batch = entries[i : i + _PUT_EVENTS_BATCH]
            r = self.events.put_events(Entries=batch)
            # PutEvents succeeds as a call even when entries fail: check each one.
            if r.get("FailedEntryCount"):
                failed = [e for e in r.get("Entries", []) if e.get("ErrorCode")]
                code = failed[0].get("ErrorCode") if failed else "unknown"
                raise TransientError(f"PutEvents: {r['FailedEntryCount']} of {len(batch)} entries failed ({code})")
