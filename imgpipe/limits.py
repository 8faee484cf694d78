"""Safety caps on input. Defaults are safe; a service's settings may lower or raise them
(``max_pixels``, ``max_bytes``, ``max_frames``): its ``Settings`` class includes this group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from imgpipe.settings import as_mapping, setting

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_FRAMES = 300


@dataclass(frozen=True)
class Limits:
    max_pixels: int = setting(DEFAULT_MAX_PIXELS, min=1)
    max_bytes: int = setting(DEFAULT_MAX_BYTES, min=1)
    max_frames: int = setting(DEFAULT_MAX_FRAMES, min=1)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | Any) -> Limits:
        """The caps of a service's parsed settings (or of a plain mapping); defaults where absent."""
        values = as_mapping(settings)
        return cls(
            max_pixels=int(values.get("max_pixels", DEFAULT_MAX_PIXELS)),
            max_bytes=int(values.get("max_bytes", DEFAULT_MAX_BYTES)),
            max_frames=int(values.get("max_frames", DEFAULT_MAX_FRAMES)),
        )
