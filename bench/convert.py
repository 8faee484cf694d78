"""convert's encoders and settings, measured side by side in one run: the table its defaults are
picked from. ``python -m bench --only convert``, or ``python -m bench.convert [repeats]``.

Two tables, on the image bench's 12 MP inputs (the cost table's typical photo and the PNG and WebP
ones):

- **encoders**: each format's encoders and effort settings on the picture convert hands them (the
  upload shrunk to ``max_long_edge``): Pillow's WebP ``method`` and AVIF ``speed`` (libavif with
  libaom, the only AV1 encoder its wheel ships), libvips' own ``webpsave`` and ``heifsave`` (AV1
  through libheif; its wheel also has libaom only: the ``svt`` and ``rav1e`` encoders are
  reported as absent, not measured). KiB, CPU ms (all threads) and SSIM against the picture
  encoded (what the encoder loses).
- **per upload**: convert's whole ``process`` as configured today against the candidate (engine
  for a JPEG wanted at over half its size, WebP method, AVIF speed): CPU, total bytes and each
  output's SSIM against a full-decode Lanczos reference (bench/quality.py). The target: at most
  half the CPU, at most +3% bytes, no output's SSIM below today's.

CPU time is ``time.process_time`` of this process (every thread), the median of the repeats,
interleaved so both configurations see the same load.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from PIL import Image

from bench import inputs, quality
from imgpipe.imaging import engines

INPUTS = (inputs.JPEG12, inputs.PNG12_ALPHA, inputs.WEBP12)
#: the configuration convert shipped with before this table, and the one picked from it
BEFORE = {"jpeg_full_scale": engines.PILLOW, "webp_method": 4, "avif_speed": 8}
#: targets for the per-upload table
CPU_RATIO_TARGET = 0.5
BYTES_RATIO_TARGET = 1.03


@dataclass(frozen=True)
class Config:
    name: str
    jpeg_full_scale: str
    webp_method: int
    avif_speed: int


def _settings() -> Any:
    """convert's settings as a deployment gets them with nothing overridden: its Settings class
    holds every default (a manifest has no settings table)."""
    from imgpipe.settings import parse
    from services.convert.settings import Settings

    return parse(Settings, {}, service="convert")


def _cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.process_time()
    out = fn()
    return out, time.process_time() - started


def _luma(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float64) @ np.array([0.299, 0.587, 0.114])


def _ssim_of(data: bytes, ref_luma: np.ndarray) -> float:
    with Image.open(io.BytesIO(data)) as out:
        return round(quality.ssim(ref_luma, _luma(out)), 4)


def _encoder_cases(picture: Image.Image, q_webp: int, q_avif: int) -> list[tuple[str, str, str, Callable[[], bytes]]]:
    """(format, encoder, setting, encode) for every encoder and effort measured on ``picture``."""
    import pyvips

    from imgpipe.imaging import EncodeOptions, encode

    vips = pyvips.Image.new_from_memory(picture.tobytes(), picture.width, picture.height, 3, "uchar")
    cases: list[tuple[str, str, str, Callable[[], bytes]]] = []
    for m in (0, 1, 2, 3, 4, 6):
        opts = EncodeOptions(webp_quality=q_webp, webp_method=m)
        cases.append(("webp", "Pillow (libwebp)", f"method {m}", lambda o=opts: encode(picture.copy(), "webp", o)))
    for e in (0, 2, 4):
        cases.append(
            ("webp", "libvips webpsave", f"effort {e}", partial(vips.webpsave_buffer, Q=q_webp, effort=e, keep=0))
        )
    for sp in (7, 8, 9, 10):
        opts = EncodeOptions(avif_quality=q_avif, avif_speed=sp)
        cases.append(("avif", "Pillow (libavif, aom)", f"speed {sp}", lambda o=opts: encode(picture.copy(), "avif", o)))
    for e in (0, 1, 2):
        heif = partial(vips.heifsave_buffer, Q=q_avif, compression="av1", encoder="aom", effort=e, keep=0)
        cases.append(("avif", "libvips heifsave (libheif, aom)", f"effort {e}", heif))
    return cases


def encoder_rows(repeats: int, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Every encoder and effort on each input's convert-sized picture."""
    from imgpipe.imaging import fit_long_edge, open_image, resize

    settings = _settings()
    rows: list[dict[str, Any]] = []
    for spec in INPUTS:
        source = open_image(inputs.ensure(spec).read_bytes())
        size = fit_long_edge(source.size, settings.max_long_edge)
        picture = resize(source.decode(min_size=size), size).convert("RGB")
        ref = _luma(picture)
        for fmt, encoder, knob, fn in _encoder_cases(picture, settings.webp_quality, settings.avif_quality):
            samples = [_cpu(fn) for _ in range(repeats)]
            made = samples[-1][0]
            rows.append(
                {
                    "input": spec.name,
                    "format": fmt,
                    "encoder": encoder,
                    "setting": knob,
                    "kib": round(len(made) / 1024, 1),
                    "cpu_ms": round(statistics.median(s for _, s in samples) * 1000, 1),
                    "ssim": _ssim_of(made, ref),
                }
            )
            log(f"  encoders {spec.name}: {fmt} {encoder} {knob}: {rows[-1]['kib']} KiB {rows[-1]['cpu_ms']} ms")
    return rows


def absent_encoders() -> list[str]:
    """AV1 encoders the wheels do not ship (libavif in Pillow, libheif in pyvips)."""
    from PIL import _avif

    missing = [f"Pillow/libavif {c}" for c in ("svt", "rav1e") if not _avif.encoder_codec_available(c)]
    return missing


def _process(config: Config, data: bytes) -> list[Any]:
    from .ops import load_processor

    process = load_processor("convert")
    saved = engines.JPEG_FULL_SCALE
    engines.JPEG_FULL_SCALE = config.jpeg_full_scale
    try:
        return process(data, {"webp_method": config.webp_method, "avif_speed": config.avif_speed})
    finally:
        engines.JPEG_FULL_SCALE = saved


def upload_rows(configs: list[Config], repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in INPUTS:
        data = inputs.ensure(spec).read_bytes()
        reference = quality.reference_source(data)
        cache: dict[tuple[int, int], np.ndarray] = {}
        cpu: dict[str, list[float]] = {c.name: [] for c in configs}
        made: dict[str, list[Any]] = {}
        for round_ in range(repeats + 1):  # the first round warms imports and caches, and is dropped
            for c in configs:
                outputs, seconds = _cpu(partial(_process, c, data))
                if round_:
                    cpu[c.name].append(seconds)
                made[c.name] = outputs
            log(f"  convert per upload {spec.name}: round {round_}/{repeats}")
        rows = {}
        for c in configs:
            scores = {f"{o.name}.{o.format}": quality.score(o.format, reference, o.data, cache) for o in made[c.name]}
            rows[c.name] = {
                "config": {
                    "jpeg_full_scale": c.jpeg_full_scale,
                    "webp_method": c.webp_method,
                    "avif_speed": c.avif_speed,
                },
                "cpu_ms": round(statistics.median(cpu[c.name]) * 1000, 1),
                "kib": round(sum(len(o.data) for o in made[c.name]) / 1024, 1),
                "kib_by_output": {f"{o.name}.{o.format}": round(len(o.data) / 1024, 1) for o in made[c.name]},
                "ssim_by_output": {k: s.ssim for k, s in scores.items()},
            }
        out[spec.name] = rows
    return out


def verdicts(per_upload: Mapping[str, Any], before: str, after: str) -> dict[str, Any]:
    """Per input: the candidate's CPU and bytes as ratios of today's, and whether every output's
    SSIM is at least today's."""
    out = {}
    for name, rows in per_upload.items():
        a, b = rows[before], rows[after]
        cpu_ratio = b["cpu_ms"] / a["cpu_ms"]
        bytes_ratio = b["kib"] / a["kib"]
        ssim_ok = all(b["ssim_by_output"][k] >= a["ssim_by_output"][k] for k in a["ssim_by_output"])
        out[name] = {
            "cpu_ratio": round(cpu_ratio, 3),
            "bytes_ratio": round(bytes_ratio, 3),
            "ssim_not_lower": ssim_ok,
            "met": cpu_ratio <= CPU_RATIO_TARGET and bytes_ratio <= BYTES_RATIO_TARGET and ssim_ok,
        }
    return out


def current() -> Config:
    settings = _settings()
    return Config("now", engines.JPEG_FULL_SCALE, settings.webp_method, settings.avif_speed)


def run(repeats: int = 3, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    before = Config("before", **BEFORE)
    now = current()
    configs = [before, now]
    log(f"convert: encoders x {repeats}, then per upload: {before} against {now}")
    per_upload = upload_rows(configs, repeats, log)
    return {
        "repeats": repeats,
        "targets": {"cpu_ratio": CPU_RATIO_TARGET, "bytes_ratio": BYTES_RATIO_TARGET},
        "per_upload": per_upload,
        "verdicts": verdicts(per_upload, before.name, now.name),
        "encoders": encoder_rows(repeats, log),
        "absent_encoders": absent_encoders(),
    }


if __name__ == "__main__":
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 3, lambda m: print(m, file=sys.stderr))
    for name, v in result["verdicts"].items():
        print(name, v, result["per_upload"][name])
