"""transform's settings: defaults are the values manifest.toml states (a test holds them equal).
The bounds (``max_dimension``, ``widths``) are :class:`imgpipe.transforms.TransformBounds`, which
the API checks requests against before it signs. ``presets`` are a deployment's named transforms,
served unsigned (``/t/p/<name>/<key>``) and checked against the same bounds when the settings are
parsed: a bad one stops ``cdk synth`` and ``imgpipe local up``, naming it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from imgpipe.imaging import STRATEGIES
from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, Invalid, setting
from imgpipe.transforms import FITS, FORMATS, PRESET_NAME, InvalidTransform, Transform, TransformBounds

#: Lambda returns at most 6 MB, base64-encoded for binary bodies: 4.4 MB of image is the most
LAMBDA_INLINE_LIMIT = 4_400_000


@dataclass(frozen=True)
class Preset:
    """One named transform: the fields a signed transform takes (docs/transforms.md)."""

    width: int | None = setting(None, min=1)
    height: int | None = setting(None, min=1)
    fit: str = setting("inside", choices=FITS)
    format: str = setting("auto", choices=FORMATS)
    quality: int | None = setting(None, min=1, max=100)

    @property
    def transform(self) -> Transform:
        return Transform(self.width, self.height, self.fit, self.format, self.quality)


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings, TransformBounds):
    cache_ttl_s: int = setting(86400, min=60, max=31_536_000)
    max_inline_bytes: int = setting(4_000_000, min=1, max=LAMBDA_INLINE_LIMIT)
    link_expiry_s: int = setting(3600, min=60, max=86400)
    max_animation_pixels: int = setting(40_000_000, min=1)
    #: where fit=cover puts its window: around the detail (as thumbnails do) or in the middle
    crop: str = setting("content", choices=STRATEGIES)
    #: named transforms served without a signature, for uploads whose outputs are public
    presets: Mapping[str, Preset] = setting({})

    def __post_init__(self) -> None:
        for name, preset in self.presets.items():
            if not PRESET_NAME.match(name):
                raise Invalid(
                    "presets",
                    f"entry {name!r}: a preset's name is 1 to 40 lowercase letters, digits, '-' or '_' "
                    "(it is a part of the URL)",
                )
            try:
                preset.transform.check(self)
            except InvalidTransform as invalid:
                raise Invalid("presets", f"entry {name!r}: '{invalid.field}' {invalid.message}") from None
