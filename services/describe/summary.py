"""describe's facts in one line, for people (`imgpipe status` prints it on stderr)."""

from __future__ import annotations

from typing import Any


def summary(facts: dict[str, Any]) -> str:
    """Size and format, palette, and the near-duplicate it found (or that it found none)."""
    parts = [f"{facts.get('width')}x{facts.get('height')} {facts.get('format', '')}".rstrip()]
    if facts.get("palette"):
        parts.append("palette " + " ".join(c["color"] for c in facts["palette"]))
    if facts.get("duplicate_of"):
        bits = facts.get("duplicate_distance", "?")
        parts.append(f"near-duplicate of {facts['duplicate_of']} ({bits} of 64 bits differ)")
    else:
        parts.append("duplicate_of: none")
    return ", ".join(parts)
