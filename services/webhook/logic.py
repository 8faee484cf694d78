"""webhook's pure part: which events it delivers, the request it makes of one, and its signature.

Signed per the Standard Webhooks spec (https://www.standardwebhooks.com): the headers
``webhook-id`` (the completion event's own id, the same on every delivery of one round),
``webhook-timestamp`` (Unix seconds at signing) and ``webhook-signature``: ``v1,`` and the
base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}`` under the key, one such entry per key
(space-separated) while a rotation has two. No I/O here, and no dependency: the standard library
computes an HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from imgpipe.events import (
    COMPLETION_DETAIL_TYPES,
    COMPLETION_SOURCE,
    UPLOAD_COMPLETED,
    UPLOAD_HELD,
    UPLOAD_PARTLY_COMPLETED,
    UPLOAD_REJECTED,
)
from imgpipe.signing_keys import parse_base64_keys

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
#: the payload's ``type``, by the event's detail-type
TYPES = {
    UPLOAD_COMPLETED: "upload.completed",
    UPLOAD_PARTLY_COMPLETED: "upload.partly_completed",
    UPLOAD_REJECTED: "upload.rejected",
    UPLOAD_HELD: "upload.held",
}
#: hosts a plain-http URL may name: the local stack's receivers, never a deployed stack's
LOCAL_HOSTS = ("localhost",)
USER_AGENT = "imgpipe-webhook/1"


class SecretError(ValueError):
    """The stored signing key is not ``whsec_<base64>`` (or bare base64)."""


class NotDeliverable(ValueError):
    """An event this service does not deliver (not a completion event of this stack)."""


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot receive webhooks, or None: https with a host, or http to localhost."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an https:// URL with a host; got {url!r}"
    if parts.username or parts.password:
        return "must not carry credentials (the signature authenticates the sender)"
    if parts.scheme == "http" and not _is_local(parts.hostname):
        return f"must use https (plain http only to localhost, for the local stack); got {url!r}"
    return None


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_keys(secret: str) -> tuple[bytes, ...]:
    """The signing keys in the secret's value: one ``whsec_<base64>`` (the prefix optional), or
    two separated by whitespace while receivers move to a new one (each delivery is then signed
    with both)."""
    try:
        return parse_base64_keys(secret, what="webhook secret", min_bytes=16, prefix=SECRET_PREFIX)
    except ValueError as exc:
        raise SecretError(str(exc)) from None


def sign(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: ``v1,<base64 HMAC-SHA256>`` per key, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()}"
        for key in keys
    )


@dataclass(frozen=True)
class Delivery:
    """One POST: the completion event's id (every delivery of one round carries it), its body."""

    msg_id: str
    type: str
    body: bytes

    def headers(self, keys: Sequence[bytes], timestamp: int) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": self.msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(keys, self.msg_id, timestamp, self.body),
        }


def delivery_for(event: Mapping[str, Any], uploads_bucket: str) -> Delivery:
    """The POST for a completion event; :class:`NotDeliverable` for anything else (the rule lets
    only these through, so anything else was put by hand: it is refused, not retried)."""
    if event.get("source") != COMPLETION_SOURCE or event.get("detail-type") not in COMPLETION_DETAIL_TYPES:
        raise NotDeliverable(f"not a completion event: {event.get('source')!r} {event.get('detail-type')!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or not isinstance(detail.get("id"), str) or not detail["id"]:
        raise NotDeliverable("the completion event has no id")
    if detail.get("bucket") != uploads_bucket:
        raise NotDeliverable(f"the completion event is about bucket {detail.get('bucket')!r}, not this stack's")
    kind = TYPES[str(event["detail-type"])]
    payload = {"type": kind, "timestamp": event.get("time"), "data": detail}
    # Compact and sorted: the same event gives the same bytes on every delivery.
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return Delivery(detail["id"], kind, body)
