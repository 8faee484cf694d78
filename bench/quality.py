"""Quality of an output against a full-decode Lanczos reference at the same size.

The reference is what a slow, careful pipeline would make: decode every pixel, resample with
Lanczos straight to the output size. A fast path (DCT-scaled decode, reducing in steps)
passes if its outputs score as well as the naive baseline's against that reference.

Crops are located, not assumed: the reference is scaled to *cover* the output size and the
output is matched at the offset where it fits best, so a content-positioned crop is
compared with the same part of the picture. Images with alpha are compared after
compositing over white, which is also what a JPEG variant of a transparent image shows.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
_SSIM_WINDOW = 8


@dataclass(frozen=True)
class Score:
    name: str
    psnr_db: float
    ssim: float


def _flatten(img: Image.Image) -> Image.Image:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        out = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out.alpha_composite(rgba)
        return out.convert("RGB")
    return img.convert("RGB")


def reference_source(data: bytes) -> Image.Image:
    """The full decode, RGBA if the source has alpha (flattened only after resampling)."""
    with Image.open(io.BytesIO(data)) as img:
        has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
        return img.convert("RGBA" if has_alpha else "RGB")


def _box_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Mean over every k x k window (valid positions only), via an integral image."""
    s = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two luma planes (float64), 8x8 uniform windows, the usual constants."""
    k = _SSIM_WINDOW
    if min(a.shape) < k:
        return 1.0 if np.array_equal(a, b) else 0.0
    mu_a, mu_b = _box_mean(a, k), _box_mean(b, k)
    var_a = _box_mean(a * a, k) - mu_a**2
    var_b = _box_mean(b * b, k) - mu_b**2
    cov = _box_mean(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _SSIM_C1) * (2 * cov + _SSIM_C2)
    den = (mu_a**2 + mu_b**2 + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return float((num / den).mean())


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255**2 / mse)


def _best_offset(ref: np.ndarray, out: np.ndarray) -> tuple[int, int]:
    """Where ``out`` sits inside the (larger or equal) ``ref``: coarse search, then refine."""
    dy_max, dx_max = ref.shape[0] - out.shape[0], ref.shape[1] - out.shape[1]
    if dy_max == 0 and dx_max == 0:
        return 0, 0
    small = out[::4, ::4].astype(np.float32)

    def err(dy: int, dx: int) -> float:
        window = ref[dy : dy + out.shape[0] : 4, dx : dx + out.shape[1] : 4].astype(np.float32)
        return float(np.mean((window - small) ** 2))

    step_y, step_x = max(1, dy_max // 48), max(1, dx_max // 48)
    best = min(
        ((dy, dx) for dy in range(0, dy_max + 1, step_y) for dx in range(0, dx_max + 1, step_x)),
        key=lambda p: err(*p),
    )
    around = (
        (dy, dx)
        for dy in range(max(0, best[0] - step_y), min(dy_max, best[0] + step_y) + 1)
        for dx in range(max(0, best[1] - step_x), min(dx_max, best[1] + step_x) + 1)
    )
    return min(around, key=lambda p: err(*p))


def score(
    name: str, source: Image.Image, output_bytes: bytes, cache: dict[tuple[int, int], np.ndarray] | None = None
) -> Score:
    """``cache`` keeps references by size: naive, pyvips and imgpipe make the same sizes."""
    cache = {} if cache is None else cache
    with Image.open(io.BytesIO(output_bytes)) as out_img:
        out_img.seek(0)
        out = np.asarray(_flatten(out_img))
    oh, ow = out.shape[:2]
    sw, sh = source.size
    scale = max(ow / sw, oh / sh)
    cover = (max(ow, round(sw * scale)), max(oh, round(sh * scale)))
    if cover not in cache:
        cache[cover] = np.asarray(_flatten(source.resize(cover, Image.Resampling.LANCZOS)))
    ref = cache[cover]
    dy, dx = _best_offset(ref, out)
    ref = ref[dy : dy + oh, dx : dx + ow]
    luma = np.array([0.299, 0.587, 0.114])
    return Score(name, round(psnr(ref, out), 2), round(ssim(ref @ luma, out.astype(np.float64) @ luma), 4))
