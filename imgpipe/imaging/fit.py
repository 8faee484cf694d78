"""Fitting a decoded upload into a box: the steps a thumbnail and an on-demand transform share,
so a ``cover`` transform and a thumbnail of the same box are the same pixels.

- ``cover``: fill the box, cropping where the detail is (:func:`imgpipe.imaging.aspect_box`);
- ``inside``: the whole image within the box, aspect kept;
- ``contain``: ``inside``, centred on a transparent canvas of exactly the box (JPEG flattens it
  onto the background colour).

Nothing is ever enlarged: a source smaller than the box keeps its size (``cover`` then crops
the largest window of the box's aspect).
"""

from __future__ import annotations

from PIL import Image

from imgpipe.imaging.crop import aspect_box
from imgpipe.imaging.decode import SourceImage
from imgpipe.imaging.geometry import cover_size, crop_size, resize


def cover(source: SourceImage, box: tuple[int, int], strategy: str = "content") -> Image.Image:
    # A JPEG is decoded straight at 1/2, 1/4 or 1/8 scale, still covering the box: a 24 MP
    # photo becomes ~0.4 MP here. The window is chosen on that, and only it is resampled.
    image = source.decode(min_size=cover_size(source.size, box))
    return resize(image, crop_size(source.size, box), box=aspect_box(image, box, strategy))


def inside_size(size: tuple[int, int], box: tuple[int | None, int | None]) -> tuple[int, int]:
    """The size of ``size`` scaled to fit ``box`` (a side None is unbounded), never enlarged."""
    scale = min(1.0, *(limit / side for limit, side in zip(box, size, strict=True) if limit is not None))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def inside(source: SourceImage, box: tuple[int | None, int | None]) -> Image.Image:
    size = inside_size(source.size, box)
    return resize(source.decode(min_size=size), size)


def pad(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """``image`` centred on a transparent canvas of ``box`` (unchanged if it fills it)."""
    if image.size == box:
        return image
    canvas = Image.new("RGBA", box, (0, 0, 0, 0))
    canvas.paste(image.convert("RGBA"), ((box[0] - image.width) // 2, (box[1] - image.height) // 2))
    return canvas


def contain(source: SourceImage, box: tuple[int, int]) -> Image.Image:
    return pad(inside(source, box), box)
