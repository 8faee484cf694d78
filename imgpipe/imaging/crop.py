"""Crops to an aspect ratio (a square thumbnail), positioned by content.

A square thumbnail of a landscape photo keeps a full-height window; the question is where to put
it along the width. "center" puts it in the middle. "content" measures edge density (sharp,
detailed regions are where subjects are; skies, walls and blurred backgrounds are smooth) on a
small grey proxy of at most ``PROXY_EDGE`` pixels, sums it per column (or row), and slides the
window to where the sum is largest. Windows within ``TIE_TOLERANCE`` of the best count as
equally good and the one nearest the centre wins, so flat images stay centred and the choice
never jitters on noise.
"""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps

PROXY_EDGE = 96
TIE_TOLERANCE = 0.03
STRATEGIES = ("content", "center")


def _profile(im: Image.Image, horizontal: bool) -> list[int]:
    """Edge energy per column (``horizontal``) or per row of a small proxy of ``im``."""
    proxy = im.convert("L")
    proxy.thumbnail((PROXY_EDGE, PROXY_EDGE), Image.Resampling.BOX)
    edges = proxy.filter(ImageFilter.FIND_EDGES)
    if edges.width > 2 and edges.height > 2:
        # Pillow leaves the outermost pixels unfiltered: blank them, they are not edges.
        edges = ImageOps.expand(ImageOps.crop(edges, 1), border=1, fill=0)
    # A box-filtered resize to one row (column) is the mean of each column (row).
    line = edges.resize((edges.width, 1) if horizontal else (1, edges.height), Image.Resampling.BOX)
    return list(line.tobytes())


def _best_offset(energy: list[int], window: int) -> int:
    """Start of the window of length ``window`` with the most energy, ties to the centre."""
    n = len(energy)
    if window >= n:
        return 0
    prefix = [0]
    for value in energy:
        prefix.append(prefix[-1] + value)
    sums = [prefix[i + window] - prefix[i] for i in range(n - window + 1)]
    best = max(sums)
    centre = (n - window) / 2
    candidates = [i for i, s in enumerate(sums) if s >= best * (1 - TIE_TOLERANCE)]
    return min(candidates, key=lambda i: (abs(i - centre), i))


def content_offset(im: Image.Image, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of the ``size`` window over ``im`` with the most detail."""
    slack_x, slack_y = im.width - size[0], im.height - size[1]
    if slack_x <= 0 and slack_y <= 0:
        return 0, 0
    horizontal = slack_x >= slack_y
    energy = _profile(im, horizontal)
    full, window = (im.width, size[0]) if horizontal else (im.height, size[1])
    # the window in proxy units; at least one proxy pixel so narrow crops still compare
    proxy_window = max(1, round(window * len(energy) / full))
    start = _best_offset(energy, proxy_window)
    offset = min(full - window, round(start * full / len(energy)))
    centre_other = ((im.height - size[1]) // 2) if horizontal else ((im.width - size[0]) // 2)
    return (offset, centre_other) if horizontal else (centre_other, offset)


def aspect_window(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest window of ``size`` with ``box``'s aspect ratio."""
    scale = min(size[0] / box[0], size[1] / box[1])
    return max(1, min(size[0], round(box[0] * scale))), max(1, min(size[1], round(box[1] * scale)))


def aspect_box(im: Image.Image, box: tuple[int, int], strategy: str = "content") -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the largest window of ``im`` with ``box``'s aspect ratio,
    placed by ``strategy``. Hand it to :func:`imgpipe.imaging.resize` to resample only the kept
    pixels, with no intermediate copy of the window."""
    if strategy not in STRATEGIES:
        raise ValueError(f"crop strategy must be one of {STRATEGIES}, not {strategy!r}")
    size = aspect_window(im.size, box)
    if size == im.size:
        return 0, 0, im.width, im.height
    if strategy == "center":
        left, top = (im.width - size[0]) // 2, (im.height - size[1]) // 2
    else:
        left, top = content_offset(im, size)
    return left, top, left + size[0], top + size[1]


def crop_to_aspect(im: Image.Image, box: tuple[int, int], strategy: str = "content") -> Image.Image:
    """The window of :func:`aspect_box`, cropped out."""
    window = aspect_box(im, box, strategy)
    return im if window == (0, 0, im.width, im.height) else im.crop(window)
