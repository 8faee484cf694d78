"""convert's settings: defaults are the values manifest.toml states (a test holds them equal)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, redefault, setting

CONVERT_FORMATS = ("webp", "avif", "jpeg", "png")


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings):
    #: jpeg is made only for inputs that are not JPEG (unless it is the only format asked for)
    formats: tuple[str, ...] = setting(("webp", "avif", "jpeg"), choices=CONVERT_FORMATS, min_items=1)
    max_long_edge: int = setting(2560, min=1)
    #: pixels of all output frames of an animation together, held in memory until encoded:
    #: 40 MP of RGBA is 160 MB. Larger animations are scaled down further to fit.
    max_animation_pixels: int = setting(40_000_000, min=1)
    jpeg_quality: int = redefault(EncoderSettings, "jpeg_quality", 85)
