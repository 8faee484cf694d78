"""Colour: every decoded image leaves here as 8-bit sRGB, "RGB" or "RGBA".

Embedded ICC profiles (wide-gamut RGB such as Display P3 or Adobe RGB, CMYK press profiles,
grey profiles) are honoured with LittleCMS through ``ImageCms``. Without a profile, CMYK falls
back to Pillow's plain conversion (Adobe's inverted CMYK JPEGs are already un-inverted by the
JPEG decoder); we ship no default CMYK profile, so such files are approximate.
"""

from __future__ import annotations

import io
import threading
from functools import lru_cache

from PIL import Image, ImageCms

_srgb_lock = threading.Lock()
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


@lru_cache(maxsize=1)
def srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_8bit(im: Image.Image) -> Image.Image:
    """Grey deeper than 8 bits -> "L", scaling (Pillow's own conversion clips at 255)."""
    if im.mode in _SIXTEEN_BIT:
        return im.convert("I").point(lambda v: v / 257).convert("L")
    if im.mode == "I":
        low, high = im.getextrema()
        if low >= 0 and high <= 255:
            return im.convert("L")
        return im.point(lambda v: v / 257 if high > 255 else v).convert("L")
    if im.mode == "F":
        _, high = im.getextrema()
        scale = 255.0 if high <= 1.0 else 1.0  # float images are usually 0..1
        return im.point(lambda v: v * scale).convert("L")
    if im.mode == "1":
        return im.convert("L")
    return im


def _alpha_mode(im: Image.Image) -> bool:
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return im.mode == "P" and "transparency" in im.info


@lru_cache(maxsize=16)
def _profile(icc: bytes) -> tuple[ImageCms.ImageCmsProfile, str, bool]:
    """(profile, its colour space, whether it is sRGB) for an embedded profile; cached because
    camera and phone files embed the same few profiles over and over."""
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    space = profile.profile.xcolor_space.strip()
    description = (ImageCms.getProfileDescription(profile) or "").lower()
    return profile, space, "srgb" in description.replace(" ", "")


@lru_cache(maxsize=32)
def _transform(icc: bytes, in_mode: str, out_mode: str) -> ImageCms.ImageCmsTransform:
    profile, _, _ = _profile(icc)
    return ImageCms.buildTransform(
        profile, srgb_profile(), in_mode, out_mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
    )


def _icc_convert(im: Image.Image, icc: bytes) -> Image.Image | None:
    """The image converted to sRGB through its profile, or None when the profile does not apply
    (already sRGB, unreadable, or for another colour space than the pixels)."""
    try:
        _, space, is_srgb = _profile(icc)
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        return None
    if is_srgb:
        return None
    expected = {"RGB": ("RGB", "RGBA"), "CMYK": ("CMYK",), "GRAY": ("L", "LA")}.get(space, ())
    if im.mode not in expected:
        return None
    alpha = im.getchannel("A") if im.mode in ("RGBA", "LA") else None
    base = im.convert("L") if im.mode == "LA" else (im.convert("RGB") if im.mode == "RGBA" else im)
    try:
        with _srgb_lock:
            transform = _transform(icc, base.mode, "RGB")
        out = ImageCms.applyTransform(base, transform)
    except (ImageCms.PyCMSError, ValueError, OSError):
        return None
    if out is None:
        return None
    if alpha is not None:
        out.putalpha(alpha)
    return out


def to_srgb(im: Image.Image) -> Image.Image:
    """``im`` as 8-bit sRGB, "RGBA" if it has an alpha channel, else "RGB"."""
    icc = im.info.get("icc_profile")
    im = _to_8bit(im)
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if _alpha_mode(im) else "RGB")
    elif im.mode in ("RGBa", "La"):
        im = im.convert("RGBA")
    if icc:
        converted = _icc_convert(im, icc)
        if converted is not None:
            return converted
    if im.mode in ("RGB", "RGBA"):
        return im
    return im.convert("RGBA" if _alpha_mode(im) else "RGB")
