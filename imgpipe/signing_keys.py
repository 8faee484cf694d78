"""Signing keys kept in Secrets Manager (the webhooks', the transform URLs'), read once per
``cache_s`` per warm function: at cold start, then again after a rotation had time to spread.
The secret's value holds one key, or two separated by whitespace during a rotation; ``parse``
(the consumer's) turns it into the keys."""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable
from typing import Any

_cache: dict[str, tuple[float, tuple[bytes, ...]]] = {}
_cache_lock = threading.Lock()


def secret_keys(
    arn: str, cache_s: float, parse: Callable[[str], tuple[bytes, ...]], secretsmanager: Any | None = None
) -> Callable[[], tuple[bytes, ...]]:
    """A function that answers the keys in the secret ``arn``, cached for ``cache_s``."""

    def keys() -> tuple[bytes, ...]:
        from imgpipe.adapters import client

        now = time.monotonic()
        with _cache_lock:
            cached = _cache.get(arn)
            if cached is not None and now - cached[0] < cache_s:
                return cached[1]
        value = (secretsmanager or client("secretsmanager")).get_secret_value(SecretId=arn)["SecretString"]
        parsed = parse(value)
        with _cache_lock:
            _cache[arn] = (now, parsed)
        return parsed

    return keys


def parse_base64_keys(secret: str, *, what: str, min_bytes: int, prefix: str = "") -> tuple[bytes, ...]:
    """The keys in a secret's value: base64 words (each optionally after ``prefix``) separated by
    whitespace, each at least ``min_bytes``. Raises ValueError naming ``what`` otherwise."""
    keys = []
    for word in secret.split():
        encoded = word.removeprefix(prefix) if prefix else word
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"the {what} is not base64 ({prefix}<base64>)") from None
        if len(key) < min_bytes:
            raise ValueError(f"the {what} is {len(key)} bytes; at least {min_bytes} are needed")
        keys.append(key)
    if not keys:
        raise ValueError(f"the {what} is empty")
    return tuple(keys)
