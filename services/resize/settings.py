"""resize's settings: defaults are the values manifest.toml states (a test holds them equal)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, setting

#: what an image with visible transparency becomes (opaque ones become JPEG); see docs/decisions.md
ALPHA_FORMATS = ("webp", "png")


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings):
    widths: tuple[int, ...] = setting((320, 640, 1280, 1920), min=1, min_items=1)
    alpha_format: str = setting("webp", choices=ALPHA_FORMATS)
