"""Key layout (docs/events.md, docs/decisions.md "Contract") and robust resolution of the key an event names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, unquote_plus

T = TypeVar("T")

#: the record older versions wrote after a processor's variants; no longer written (the skip
#: evidence is the last variant's metadata, docs/decisions.md "Skip evidence"), but a bucket
#: deployed before keeps them: notify refuses an event that names one as a variant, and the purge
#: deletes them with the variants.
DONE_RECORD = "_done.json"

# S3's limits on what the runtime writes for an upload: an upload that would pass them can never
# be processed, so it is rejected before any GET instead of failing (and being retried) at the PUT.
MAX_KEY_BYTES = 1024
MAX_USER_METADATA_BYTES = 2048
#: room kept after ``<processor>/<source key>/`` for the longest ``<variant>.<ext>`` a processor
#: writes (``1920w.webp``, ``300x300.avif`` are 10-12 bytes)
MAX_VARIANT_FILE_BYTES = 32


def variant_prefix(processor: str, source_key: str) -> str:
    return f"{processor}/{source_key}/"


def variant_key(processor: str, source_key: str, variant: str, ext: str) -> str:
    """``<processor>/<source key>/<variant>.<ext>``: deterministic, so a retry overwrites."""
    return f"{variant_prefix(processor, source_key)}{variant}.{ext}"


def cdn_url(delivery_url: str, variant_key: str, upload_etag: str) -> str:
    """A variant's URL on the front door's CDN: ``<delivery url>/v/<variant key>?v=<upload etag>``.
    The etag is part of the CDN's cache key, so an overwritten upload gets new URLs that no cache
    (edge or browser) has seen (docs/api.md, "Caching"); the API, notify's email and ``imgpipe
    status`` all build them here."""
    return f"{delivery_url.rstrip('/')}/v/{quote(variant_key)}?v={quote(upload_etag)}"


def max_source_key_bytes(processor: str) -> int:
    """The longest upload key (UTF-8 bytes) whose variant keys all fit S3's key limit."""
    return MAX_KEY_BYTES - len(variant_prefix(processor, "").encode()) - MAX_VARIANT_FILE_BYTES


def metadata_bytes(metadata: Mapping[str, str]) -> int:
    """User metadata size as S3 counts it: the UTF-8 bytes of every name and value."""
    return sum(len(name.encode()) + len(value.encode()) for name, value in metadata.items())


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
