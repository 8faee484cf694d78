"""Encoders compared at equal quality: the table convert's encoder settings are picked from.

An effort compared at one fixed quality cannot show the trade that matters: a faster effort at a
*different* quality may land at the same SSIM and the same bytes. So, on each of the bench's
12 MP inputs, for each format convert makes and each encoder, effort and CPU-trading option:

1. the picture is the one convert encodes today (the upload decoded and shrunk to
   ``max_long_edge``), and the judge is the one the per-upload table uses: SSIM against a
   full-decode Lanczos reference (bench/quality.py);
2. the target is the SSIM of the output convert made with the settings it *shipped with*
   (bench.convert.BEFORE), one target per input and format;
3. the quality is bisected (integer steps, the settings' own unit) to the lowest value whose
   output reaches the target, and the bytes there are kept;
4. CPU at that quality: ``time.process_time`` (every thread of this process), the median of the
   repeats, candidates interleaved round by round so all see the same load;
5. per input, the fastest combination (one candidate per format) whose bytes together stay
   within ``BYTES_RATIO_TARGET`` of the shipped outputs'.

The CPU convert spends outside the encoders (decode and shrink) is measured the same way, so the
table says what share of an upload's CPU the encoders can save at all.

``python -m bench --only convert`` runs it as part of the convert part; ``PYTHONPATH=.
.venv/bin/python -m bench.convert matched [repeats] [input...]`` runs it alone.
"""

from __future__ import annotations

import io
import itertools
import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from PIL import Image

from bench import inputs, quality
from imgpipe.imaging.encode import flatten

BYTES_RATIO_TARGET = 1.03
#: quality ranges the bisection searches (the encoders' own)
RANGES = {"webp": (0, 100), "avif": (0, 100), "jpeg": (1, 100)}


@dataclass(frozen=True)
class Candidate:
    format: str
    encoder: str
    setting: str
    encode: Callable[[int], bytes]  # quality -> the encoded picture


def _pillow(picture: Image.Image, fmt: str, **params: Any) -> Callable[[int], bytes]:
    def run(q: int) -> bytes:
        im = flatten(picture) if fmt == "jpeg" else picture
        buf = io.BytesIO()
        im.save(buf, format=fmt.upper(), quality=q, **params)
        return buf.getvalue()

    return run


def _vips(picture: Image.Image, op: str, **params: Any) -> Callable[[int], bytes]:
    import pyvips

    im = flatten(picture) if op == "jpegsave_buffer" else picture
    image = pyvips.Image.new_from_memory(im.tobytes(), im.width, im.height, len(im.getbands()), "uchar")
    save = getattr(image, op)
    return lambda q: save(Q=q, keep=0, **params)


def candidates(picture: Image.Image, formats: Sequence[str]) -> list[Candidate]:
    """Every encoder, effort and CPU-trading option measured for ``formats``."""
    out: list[Candidate] = []
    if "webp" in formats:
        for m in range(7):
            out.append(Candidate("webp", "Pillow (libwebp)", f"method {m}", _pillow(picture, "webp", method=m)))
        # libvips' webpsave is the same libwebp; what it adds are the knobs Pillow does not expose
        # (the preset sets sns/filter strength/sharpness; smart_deblock picks the filter per image)
        for e in (0, 2, 4):
            fn = _vips(picture, "webpsave_buffer", effort=e)
            out.append(Candidate("webp", "libvips webpsave", f"effort {e}", fn))
        for e in (0, 2):
            fn = _vips(picture, "webpsave_buffer", effort=e, preset="photo")
            out.append(Candidate("webp", "libvips webpsave", f"effort {e}, preset photo", fn))
        fn = _vips(picture, "webpsave_buffer", effort=2, smart_deblock=True)
        out.append(Candidate("webp", "libvips webpsave", "effort 2, smart_deblock", fn))
        fn = _vips(picture, "webpsave_buffer", effort=1, smart_subsample=True)
        out.append(Candidate("webp", "libvips webpsave", "effort 1, smart_subsample", fn))
    if "avif" in formats:
        for s in range(6, 11):
            out.append(Candidate("avif", "Pillow (libavif, aom)", f"speed {s}", _pillow(picture, "avif", speed=s)))
        # libavif tunes a lossy picture's colour for "iq" unless told otherwise (as convert
        # tells it: imgpipe.imaging.encode), and maps quality to another quantizer per tune
        ssim = {"color:tune": "ssim"}
        for s in range(7, 11):
            fn = _pillow(picture, "avif", speed=s, advanced=ssim)
            out.append(Candidate("avif", "Pillow (libavif, aom)", f"speed {s}, tune ssim", fn))
        fn = _pillow(picture, "avif", speed=9, advanced={"color:tune": "psnr"})
        out.append(Candidate("avif", "Pillow (libavif, aom)", "speed 9, tune psnr", fn))
        fn = _pillow(picture, "avif", speed=9, advanced=ssim, subsampling="4:4:4")
        out.append(Candidate("avif", "Pillow (libavif, aom)", "speed 9, tune ssim, 4:4:4", fn))
        fn = _pillow(picture, "avif", speed=9, advanced=ssim, max_threads=1)
        out.append(Candidate("avif", "Pillow (libavif, aom)", "speed 9, tune ssim, 1 thread", fn))
        for e in (0, 1, 2):
            fn = _vips(picture, "heifsave_buffer", compression="av1", encoder="aom", effort=e)
            out.append(Candidate("avif", "libvips heifsave (libheif, aom)", f"effort {e}", fn))
        for e in (0, 1):
            fn = _vips(picture, "heifsave_buffer", compression="av1", encoder="aom", effort=e, tune="ssim")
            out.append(Candidate("avif", "libvips heifsave (libheif, aom)", f"effort {e}, tune ssim", fn))
    if "jpeg" in formats:
        fn = _pillow(picture, "jpeg", optimize=True, progressive=True)
        out.append(Candidate("jpeg", "Pillow (libjpeg-turbo)", "optimize, progressive", fn))
        out.append(Candidate("jpeg", "Pillow (libjpeg-turbo)", "optimize", _pillow(picture, "jpeg", optimize=True)))
        out.append(Candidate("jpeg", "Pillow (libjpeg-turbo)", "plain", _pillow(picture, "jpeg")))
        fn = _vips(picture, "jpegsave_buffer", optimize_coding=True, interlace=True)
        out.append(Candidate("jpeg", "libvips jpegsave", "optimize_coding, interlace", fn))
    return out


def lowest_quality(
    encode: Callable[[int], bytes], ssim_of: Callable[[bytes], float], target: float, low: int, high: int
) -> tuple[int, bytes, float] | None:
    """The lowest quality in [low, high] whose output's SSIM reaches ``target`` (SSIM taken to
    rise with quality), with that output and its SSIM; None when even ``high`` falls short."""
    seen: dict[int, tuple[bytes, float]] = {}

    def at(q: int) -> tuple[bytes, float]:
        if q not in seen:
            data = encode(q)
            seen[q] = (data, ssim_of(data))
        return seen[q]

    lo, hi = low, high  # the answer, if any, is in [lo, hi]; ``high`` is encoded only if needed
    while lo < hi:
        mid = (lo + hi) // 2
        if at(mid)[1] >= target:
            hi = mid
        else:
            lo = mid + 1
    data, ssim = at(hi)
    return (hi, data, ssim) if ssim >= target else None


def fastest_combination(rows: Sequence[Mapping[str, Any]], budget_kib: float) -> dict[str, Any] | None:
    """One matched row per format, the least CPU together within ``budget_kib`` bytes together."""
    by_format: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row["quality"] is not None:
            by_format.setdefault(row["format"], []).append(row)
    best: tuple[float, float, tuple[Mapping[str, Any], ...]] | None = None
    for combo in itertools.product(*by_format.values()):
        kib = sum(r["kib"] for r in combo)
        cpu = sum(r["cpu_ms"] for r in combo)
        if kib <= budget_kib and (best is None or (cpu, kib) < best[:2]):
            best = (cpu, kib, combo)
    if best is None:
        return None
    cpu, kib, combo = best
    return {
        "cpu_ms": round(cpu, 1),
        "kib": round(kib, 1),
        "choice": {r["format"]: f"{r['encoder']} {r['setting']} q{r['quality']}" for r in combo},
    }


def _cpu(fn: Callable[[], Any]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def input_table(
    spec: inputs.InputSpec,
    before: Callable[[bytes], list[Any]],
    max_long_edge: int,
    repeats: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """``before`` makes the outputs convert made with the settings it shipped with."""
    from imgpipe.imaging import fit_long_edge, open_image, resize

    data = inputs.ensure(spec).read_bytes()
    reference = quality.reference_source(data)
    cache: dict[tuple[int, int], np.ndarray] = {}

    def ssim_of(fmt: str, out: bytes) -> float:
        return quality.score(fmt, reference, out, cache).ssim

    shipped = before(data)
    targets = {o.format: ssim_of(o.format, o.data) for o in shipped}
    shipped_kib = {o.format: round(len(o.data) / 1024, 1) for o in shipped}

    def decode_and_shrink() -> Image.Image:
        source = open_image(data)
        size = fit_long_edge(source.size, max_long_edge)
        return resize(source.decode(min_size=size), size)

    picture = decode_and_shrink()
    rows: list[dict[str, Any]] = []
    matched: list[tuple[dict[str, Any], Callable[[], bytes]]] = []
    for c in candidates(picture, list(targets)):
        low, high = RANGES[c.format]
        found = lowest_quality(c.encode, partial(ssim_of, c.format), targets[c.format], low, high)
        row: dict[str, Any] = {"format": c.format, "encoder": c.encoder, "setting": c.setting, "quality": None}
        if found is not None:
            q, out, ssim = found
            row.update(quality=q, kib=round(len(out) / 1024, 1), ssim=ssim)
            matched.append((row, partial(c.encode, q)))
        rows.append(row)
        log(f"  matched {spec.name}: {c.format} {c.encoder} {c.setting}: {row}")
    samples: dict[int, list[float]] = {id(r): [] for r, _ in matched}
    decode_samples = []
    for _ in range(repeats):  # interleaved: every candidate once per round
        decode_samples.append(_cpu(decode_and_shrink))
        for row, fn in matched:
            samples[id(row)].append(_cpu(fn))
    for row, _ in matched:
        row["cpu_ms"] = round(statistics.median(samples[id(row)]) * 1000, 1)
    budget = sum(shipped_kib.values()) * BYTES_RATIO_TARGET
    return {
        "targets": targets,
        "shipped_kib": shipped_kib,
        "decode_shrink_cpu_ms": round(statistics.median(decode_samples) * 1000, 1),
        "rows": rows,
        "fastest": fastest_combination(rows, budget),
    }


def run(
    specs: Sequence[inputs.InputSpec],
    before: Callable[[bytes], list[Any]],
    max_long_edge: int,
    repeats: int = 3,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    return {
        "repeats": repeats,
        "bytes_ratio_target": BYTES_RATIO_TARGET,
        "load_average_before": os.getloadavg(),
        "inputs": {spec.name: input_table(spec, before, max_long_edge, repeats, log) for spec in specs},
        "load_average_after": os.getloadavg(),
    }
