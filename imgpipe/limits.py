"""Safety caps on input (DESIGN.md section 5). Defaults are safe; a manifest's settings may
lower or raise them per processor (``max_pixels``, ``max_bytes``, ``max_frames``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_FRAMES = 300


@dataclass(frozen=True)
class Limits:
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_frames: int = DEFAULT_MAX_FRAMES

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        return cls(
            max_pixels=int(settings.get("max_pixels", DEFAULT_MAX_PIXELS)),
            max_bytes=int(settings.get("max_bytes", DEFAULT_MAX_BYTES)),
            max_frames=int(settings.get("max_frames", DEFAULT_MAX_FRAMES)),
        )
