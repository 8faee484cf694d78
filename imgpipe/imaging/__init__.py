"""imgpipe's imaging core: the one place that knows Pillow and libvips.

Processors compose these steps and never call an image library themselves, so the safety
checks, colour handling and metadata policy are the same for every output:

1. :func:`open_image` sniffs, allow-lists and header-checks the bytes (no pixels decoded);
2. :meth:`SourceImage.decode` decodes once, straight to about the size of the largest output,
   to upright 8-bit sRGB (:meth:`SourceImage.frames` for animations). The engine comes from one
   table, :data:`engines.DISPATCH`: Pillow's DCT-scaled decode for JPEG, libvips for PNG
   (streamed) and WebP (shrunk while decoding); both hand back a Pillow image;
3. :mod:`geometry` sizes and resizes (never enlarging), :func:`aspect_box` places a crop by content,
   :mod:`fit` fits an upload into a box (cover, inside, contain) for thumbnails and transforms;
4. :func:`encode` writes JPEG / PNG / WebP / AVIF with only the kept metadata.
"""

from imgpipe.imaging.crop import STRATEGIES, aspect_box, crop_to_aspect
from imgpipe.imaging.decode import SourceImage, open_image
from imgpipe.imaging.encode import AnimationEncoder, EncodeOptions, encode, encode_animation, flatten, has_alpha
from imgpipe.imaging.fit import contain, cover, inside, inside_size, pad
from imgpipe.imaging.formats import ALLOWED, sniff
from imgpipe.imaging.geometry import cover_size, crop_size, fit_long_edge, fit_pixels, fit_width, resize

__all__ = [
    "ALLOWED",
    "STRATEGIES",
    "AnimationEncoder",
    "EncodeOptions",
    "SourceImage",
    "aspect_box",
    "contain",
    "cover",
    "cover_size",
    "crop_size",
    "crop_to_aspect",
    "encode",
    "encode_animation",
    "fit_long_edge",
    "fit_pixels",
    "fit_width",
    "flatten",
    "has_alpha",
    "inside",
    "inside_size",
    "open_image",
    "pad",
    "resize",
    "sniff",
]
