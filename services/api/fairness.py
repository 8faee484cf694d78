"""Per-caller request rate: each signed-in caller gets ``requests_per_minute`` calls per UTC
minute, counted in one conditional counter per caller and minute (``adapters.UserCatalog``), so
one account cannot take the function's and the table's capacity from the others. Pure: the
window a moment falls in, and the refusal.

What it does not do: a flood is still counted by API Gateway's stage-wide throttle before the
function refuses it; the per-address and per-token limit in front of the stage is the optional
web ACL (``-c waf=on``, docs/decisions.md).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from .errors import ApiError

RATE_PREFIX = "rate#"
WINDOW_S = 60
#: a window's counter is kept this long after it starts, then DynamoDB's TTL removes it
WINDOW_TTL_S = 10 * 60


def window(now: datetime) -> tuple[str, int]:
    """The minute ``now`` falls in (``2026-12-01T10:15``) and the seconds until the next one."""
    now = now.astimezone(UTC)
    start = now.replace(second=0, microsecond=0)
    return start.strftime("%Y-%m-%dT%H:%M"), max(1, math.ceil(WINDOW_S - (now - start).total_seconds()))


def rate_limited(limit: int, retry_after_s: int) -> ApiError:
    return ApiError(
        429,
        "rate_limited",
        f"Too many requests: at most {limit} a minute per user. Try again in {retry_after_s} seconds.",
        headers={"Retry-After": str(retry_after_s)},
    )
