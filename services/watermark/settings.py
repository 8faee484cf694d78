"""watermark's settings: each field's default is the value the service runs with (a manifest's [settings] or
the deployment's `settings` context may set any of them)."""

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
    #: whether these widths are the upload's srcset (resize's then are not; never both): imgpipe/outputs.py
    srcset: bool = setting(True)
    #: the mark: a PNG of this folder (its alpha is the shape; the colour is chosen per image), or,
    #: when text is set, that line of text instead
    logo: str = setting("logo.png")
    text: str = setting("")
    gravity: str = setting("southeast", choices=GRAVITIES)
    #: the mark's width, and its distance from the edges, as fractions of the output's width
    scale: float = setting(0.15, min=0.01, max=1.0)
    margin: float = setting(0.03, min=0.0, max=0.25)
    opacity: float = setting(0.7, min=0.05, max=1.0)
    #: "auto": a dark mark where the image under it is light, a light one where it is dark
    tone: str = setting("auto", choices=TONES)
    alpha_format: str = setting("webp", choices=ALPHA_FORMATS)
