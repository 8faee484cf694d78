"""resize's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, setting

#: what an image with visible transparency becomes (opaque ones become JPEG); see docs/decisions.md
ALPHA_FORMATS = ("webp", "png")


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings):
    widths: tuple[int, ...] = setting((320, 640, 1280, 1920), min=1, min_items=1)
    #: images with visible transparency: "webp" (default) or "png"; see docs/decisions.md
    alpha_format: str = setting("webp", choices=ALPHA_FORMATS)
