"""webhook's I/O: the signing keys from Secrets Manager (cached by a warm function) and the POST
(the standard library's HTTP client: nothing more in the layer)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from imgpipe.signing_keys import secret_keys as shared_secret_keys

from .deliverer import DeliveryFailed
from .logic import parse_keys

#: bytes of the receiver's answer read (and dropped) before the connection is closed
_ANSWER_BYTES = 4096


def secret_keys(arn: str, cache_s: float, secretsmanager: Any | None = None) -> Callable[[], tuple[bytes, ...]]:
    """The webhook keys in the secret ``arn``, read once per ``cache_s`` per warm function (at cold
    start, then after a rotation had time to reach every receiver)."""
    return shared_secret_keys(arn, cache_s, parse_keys, secretsmanager)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a delivery: following it would POST the signed event to a
    URL nobody configured."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def http_post(url: str, headers: Mapping[str, str], body: bytes, timeout_s: float) -> int:
    """POST ``body``; the HTTP status (any), or :class:`DeliveryFailed` when there is none."""
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _opener.open(request, timeout=timeout_s) as response:
            response.read(_ANSWER_BYTES)
            return int(response.status)
    except urllib.error.HTTPError as exc:  # an answer: 3xx (not followed), 4xx, 5xx
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DeliveryFailed(f"no answer from the receiver: {type(exc).__name__}: {exc}") from None
