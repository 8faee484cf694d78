"""The daily upload quota, pure: the day it counts in, and the refusal with when to retry."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from .errors import ApiError


def quota_day(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def seconds_to_next_day(now: datetime) -> int:
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, math.ceil((midnight - now).total_seconds()))


def quota_exceeded(limit: int, now: datetime) -> ApiError:
    retry = seconds_to_next_day(now)
    return ApiError(
        429,
        "quota_exceeded",
        f"You have made {limit} uploads today, the daily limit; try again in {retry} seconds (after 00:00 UTC).",
        headers={"Retry-After": str(retry)},
    )
