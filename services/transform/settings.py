"""transform's settings: defaults are the values manifest.toml states (a test holds them equal).
The bounds (``max_dimension``, ``widths``) are :class:`imgpipe.transforms.TransformBounds`, which
the API checks requests against before it signs."""

from __future__ import annotations

from dataclasses import dataclass

from imgpipe.imaging import STRATEGIES
from imgpipe.limits import Limits
from imgpipe.settings import EncoderSettings, setting
from imgpipe.transforms import TransformBounds

#: Lambda returns at most 6 MB, base64-encoded for binary bodies: 4.4 MB of image is the most
LAMBDA_INLINE_LIMIT = 4_400_000


@dataclass(frozen=True)
class Settings(Limits, EncoderSettings, TransformBounds):
    cache_ttl_s: int = setting(86400, min=60, max=31_536_000)
    max_inline_bytes: int = setting(4_000_000, min=1, max=LAMBDA_INLINE_LIMIT)
    link_expiry_s: int = setting(3600, min=60, max=86400)
    max_animation_pixels: int = setting(40_000_000, min=1)
    #: where fit=cover puts its window: around the detail (as thumbnails do) or in the middle
    crop: str = setting("content", choices=STRATEGIES)
