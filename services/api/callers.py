"""Who is asking, pure: the caller from the claims the JWT authorizer verified."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import unauthorized


@dataclass(frozen=True)
class Caller:
    """Who is asking: the ``sub`` claim the JWT authorizer verified."""

    sub: str
    claims: Mapping[str, Any] = field(default_factory=dict)


_SUB = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """The caller from the authorizer's claims. The gateway already refused a bad token; this
    refuses a request that reached the function without one (a misconfigured route) instead of
    serving it as nobody. A ``sub`` becomes a key segment, so it must be key-safe."""
    sub = (claims or {}).get("sub")
    if not isinstance(sub, str) or not _SUB.match(sub):
        raise unauthorized()
    return Caller(sub, dict(claims or {}))
