"""thumbnail's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, redefault, setting

#: where the square goes: around the detail, or in the middle (imgpipe.imaging.crop.STRATEGIES)
CROP_STRATEGIES = ("content", "center")
THUMBNAIL_FORMATS = ("webp", "jpeg", "avif", "png")


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings):
    #: the box: 300 is 300x300; [400, 300] is 400 wide and 300 high
    size: int | tuple[int, int] = setting(300, min=1)
    crop: str = setting("content", choices=CROP_STRATEGIES)
    #: add "jpeg" for clients without WebP
    formats: tuple[str, ...] = setting(("webp",), choices=THUMBNAIL_FORMATS, min_items=1)
    # method 2: 4x faster than 4 on a 300x300 thumbnail for ~6% more bytes (bench/encoders.py)
    webp_method: int = redefault(EncoderSettings, "webp_method", 2)
