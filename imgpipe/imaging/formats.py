"""Which formats imgpipe reads, how it recognises them from the bytes, and lazy plugin loading.

The name of an upload says nothing reliable about its content, so the format is sniffed from
the first bytes. Pillow is then told to try only that one plugin (``Image.open(formats=[...])``),
which both narrows the attack surface and avoids importing every plugin on a cold start.
"""

from __future__ import annotations

import threading

#: imgpipe format name -> Pillow format name. The allowlist: anything else is refused.
PILLOW_FORMAT: dict[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "tiff": "TIFF",
    "bmp": "BMP",
    "avif": "AVIF",
    "heif": "HEIF",
}
ALLOWED: frozenset[str] = frozenset(PILLOW_FORMAT)

# ISO-BMFF brands (the "ftyp" box) that mark AVIF and HEIC/HEIF files.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}


def _ftyp_brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an ISO-BMFF file, or an empty set."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return set()
    box_size = int.from_bytes(head[0:4], "big")
    end = min(max(box_size, 16), len(head))
    brands = {head[8:12]}
    # bytes 12..16 are the minor version, then 4-byte compatible brands up to the box end
    brands.update(head[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def sniff(data: bytes) -> str | None:
    """The imgpipe format name of ``data`` judged from its magic bytes, or None."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    brands = _ftyp_brands(head)
    if brands & _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heif"
    return None


_lock = threading.Lock()
_registered: set[str] = set()


def ensure_plugin(fmt: str) -> None:
    """Import the one Pillow plugin ``fmt`` needs, on first use only.

    ``Image.open`` would otherwise call ``Image.init()`` for a format that is not preloaded,
    importing some forty plugins; pillow-heif is only imported when a HEIC actually arrives.
    """
    if fmt in _registered:
        return
    with _lock:
        if fmt in _registered:
            return
        if fmt == "webp":
            from PIL import WebPImagePlugin  # noqa: F401
        elif fmt == "tiff":
            from PIL import TiffImagePlugin  # noqa: F401
        elif fmt == "avif":
            from PIL import AvifImagePlugin  # noqa: F401
        elif fmt == "heif":
            import pillow_heif

            # Pillow's own AVIF plugin handles AVIF; pillow-heif only HEIC/HEIF.
            pillow_heif.register_heif_opener(thumbnails=False)
        else:
            from PIL import BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin  # noqa: F401
        _registered.add(fmt)
