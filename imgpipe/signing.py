"""Pipeline events signed with the stack's event key, so notify believes them without a request.

A producer signs each "Variants Created" / "Image Rejected" it puts (``detail.signature``); notify
checks the signature before anything else. The key is a stack secret only the producers and notify
may read (the ``event_key`` need), read once per cold start. The threat model is in
docs/decisions.md ("Pipeline events are signed").

What is signed is the event's source, detail-type and detail (without the signature), as canonical
JSON: keys sorted, no spaces, and a float with an integral value written as the integer, because
EventBridge hands a consumer the detail re-serialised and need not keep ``23.0`` as written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

#: the field of ``detail`` that carries the signature: ``v1=<hex HMAC-SHA256>``
SIGNATURE_FIELD = "signature"
_SCHEME = "v1="


def _canonical(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _message(source: str, detail_type: str, detail: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in detail.items() if k != SIGNATURE_FIELD}
    signed = {"source": source, "detail-type": detail_type, "detail": _canonical(body)}
    return json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def signature(key: bytes, source: str, detail_type: str, detail: Mapping[str, Any]) -> str:
    return _SCHEME + hmac.new(key, _message(source, detail_type, detail), hashlib.sha256).hexdigest()


def signed(key: bytes, source: str, detail_type: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """``detail`` with its signature added."""
    return {**detail, SIGNATURE_FIELD: signature(key, source, detail_type, detail)}


def verify(key: bytes, event: Mapping[str, Any]) -> bool:
    """Whether the event carries a signature of its source, detail-type and detail made with ``key``."""
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return False
    given = detail.get(SIGNATURE_FIELD)
    if not isinstance(given, str):
        return False
    expected = signature(key, str(event.get("source")), str(event.get("detail-type")), detail)
    return hmac.compare_digest(given.encode(), expected.encode())
