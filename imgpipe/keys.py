"""Key layout (DESIGN.md section 4) and robust resolution of the key an event names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, unquote_plus

T = TypeVar("T")

#: small record written last, after every variant: its presence with the same source etag
#: and settings hash means the work is done (idempotent skip, DESIGN.md section 4).
DONE_RECORD = "_done.json"


def variant_prefix(processor: str, source_key: str) -> str:
    return f"{processor}/{source_key}/"


def variant_key(processor: str, source_key: str, variant: str, ext: str) -> str:
    """``<processor>/<source key>/<variant>.<ext>``: deterministic, so a retry overwrites."""
    return f"{variant_prefix(processor, source_key)}{variant}.{ext}"


def done_record_key(processor: str, source_key: str) -> str:
    return f"{variant_prefix(processor, source_key)}{DONE_RECORD}"


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short stable hash of a processor's effective settings (and so of its outputs)."""
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_metadata_value(value: str) -> str:
    """S3 user metadata must be ASCII: percent-encode (keys may be unicode)."""
    return quote(value, safe="/")


def find_object(key: str, head: Callable[[str], T | None]) -> T | None:
    """What ``head`` finds for the key as given; else for its URL-decoded form if different
    (classic S3 notifications encode keys, EventBridge and moto do not). ``None`` when neither
    exists. Decoding blindly would corrupt keys that contain ``+`` or ``%``. Returning the head
    result itself (which names the key found) saves callers a second HEAD of the same object."""
    found = head(key)
    if found is None:
        decoded = unquote_plus(key)
        if decoded != key:
            found = head(decoded)
    return found
