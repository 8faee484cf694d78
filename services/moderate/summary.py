"""moderate's facts in one line, for people (`imgpipe status` prints it on stderr): the verdict,
not a description (docs/moderation.md)."""

from __future__ import annotations

from typing import Any


def summary(facts: dict[str, Any]) -> str:
    if not facts.get("held"):
        return "not held"
    return "held for review by " + ", ".join(map(str, facts.get("held_by") or ["?"]))
