"""convert's encoders and settings, measured side by side in one run: the table its defaults are
picked from. ``python -m bench --only convert``, or ``python -m bench.convert [repeats]``.

Two tables, on the image bench's 12 MP inputs (the cost table's typical photo and the PNG and WebP
ones):

- **per upload**: convert's whole ``process`` with the settings it shipped with (*before*) against
  today's (*now*): CPU, total bytes and each output's SSIM against a full-decode Lanczos reference
  (bench/quality.py). The target: at most half the CPU, at most +3% bytes, no output's SSIM below
  before's.
- **encoders at equal quality** (bench/encoder_match.py): each format's encoders, efforts and
  CPU-trading options (Pillow's libwebp methods and libavif speeds and tunes, libvips'
  ``webpsave``, ``heifsave`` and ``jpegsave``), each at the quality where its output's SSIM
  reaches before's, with bytes and CPU there; the fastest combination per input within +3% bytes;
  and the CPU of the decode and shrink that precede the encoders. AV1 encoders the wheels do not
  ship (SVT-AV1, rav1e) are reported as absent, not measured.

CPU time is ``time.process_time`` of this process (every thread), the median of the repeats,
interleaved so both configurations see the same load.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from bench import inputs, quality
from imgpipe.imaging import engines

INPUTS = (inputs.JPEG12, inputs.PNG12_ALPHA, inputs.WEBP12)
#: the settings that decide convert's encoders (the per-upload table compares them)
KNOBS = ("webp_quality", "webp_method", "avif_quality", "avif_speed", "jpeg_quality")
#: targets for the per-upload table
CPU_RATIO_TARGET = 0.5
BYTES_RATIO_TARGET = 1.03


@dataclass(frozen=True)
class Config:
    name: str
    jpeg_full_scale: str
    settings: Mapping[str, Any]  # values of KNOBS


#: the configuration convert shipped with before these tables, spelled out so that a later change
#: of a default does not move it
BEFORE = Config(
    "before",
    engines.PILLOW,
    {
        "webp_quality": 80,
        "webp_method": 4,
        "avif_quality": 60,
        "avif_speed": 8,
        "jpeg_quality": 85,
    },
)


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
        return process(data, dict(config.settings))
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
                "config": {"jpeg_full_scale": c.jpeg_full_scale, **c.settings},
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
    return Config("now", engines.JPEG_FULL_SCALE, {k: getattr(settings, k) for k in KNOBS})


def matched(specs: Sequence[inputs.InputSpec], repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The encoders at equal quality (bench/encoder_match.py), judged against before's outputs."""
    from bench import encoder_match

    return encoder_match.run(specs, partial(_process, BEFORE), _settings().max_long_edge, repeats, log)


def run(repeats: int = 3, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    now = current()
    log(f"convert: per upload x {repeats}: {BEFORE} against {now}, then the encoders at equal quality")
    per_upload = upload_rows([BEFORE, now], repeats, log)
    return {
        "repeats": repeats,
        "targets": {"cpu_ratio": CPU_RATIO_TARGET, "bytes_ratio": BYTES_RATIO_TARGET},
        "per_upload": per_upload,
        "verdicts": verdicts(per_upload, BEFORE.name, now.name),
        "matched": matched(INPUTS, repeats, log),
        "absent_encoders": absent_encoders(),
    }


if __name__ == "__main__":
    import json

    def _log(m: str) -> None:
        print(m, file=sys.stderr, flush=True)

    if sys.argv[1:2] == ["matched"]:  # only the encoders at equal quality, on the inputs named
        args = sys.argv[2:]
        repeats = int(args[0]) if args else 3
        specs = tuple(inputs.BY_NAME[n] for n in args[1:]) or INPUTS
        print(json.dumps(matched(specs, repeats, _log), indent=1))
    else:
        result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 3, _log)
        for name, v in result["verdicts"].items():
            print(name, v, result["per_upload"][name])
