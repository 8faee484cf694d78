"""watermark's settings: defaults are the values manifest.toml states (a test holds them equal)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, setting

#: where the mark goes (imgpipe.imaging.overlay.GRAVITIES; settings.py never imports Pillow)
GRAVITIES = ("northwest", "north", "northeast", "west", "center", "east", "southwest", "south", "southeast")
TONES = ("auto", "light", "dark")
#: what an image with visible transparency becomes (opaque ones become JPEG), as in resize
ALPHA_FORMATS = ("webp", "png")


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings):
    widths: tuple[int, ...] = setting((1280,), min=1, min_items=1)
    logo: str = setting("logo.png")
    text: str = setting("")
    gravity: str = setting("southeast", choices=GRAVITIES)
    scale: float = setting(0.15, min=0.01, max=1.0)
    margin: float = setting(0.03, min=0.0, max=0.25)
    opacity: float = setting(0.7, min=0.05, max=1.0)
    tone: str = setting("auto", choices=TONES)
    alpha_format: str = setting("webp", choices=ALPHA_FORMATS)
