"""Encoder settings measured: output size against encode time (and PSNR, so a smaller file is
not bought with visibly worse pixels), for WebP ``method``, AVIF ``speed`` and quality.

    PYTHONPATH=. .venv/bin/python -m bench.encoders [--quick] [--out bench/results/encoders]

Inputs: the one real photograph available offline (matplotlib's sample portrait, when the bench
extra is installed) and photo-like images from ``tests.imagegen``, at convert's output size
(2560 px long edge) and at thumbnail size (300x300). The defaults in the manifests are picked
from this table; docs/decisions.md records the run.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from imgpipe.imaging import EncodeOptions, crop_size, crop_to_aspect, encode, resize
from tests import imagegen


@dataclass
class Row:
    image: str
    format: str
    knob: str  # "method=4", "speed=8", "quality=80"...
    kbytes: float
    cpu_ms: float  # CPU time of all threads: steadier than wall time on a shared machine
    wall_ms: float
    psnr: float


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio over RGB, in dB (higher: closer to the original)."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = statistics.fmean(v * v for v in ImageStat.Stat(diff).rms)
    return 99.0 if mse == 0 else 10 * math.log10(255 * 255 / mse)


def inputs(quick: bool) -> dict[str, Image.Image]:
    images: dict[str, Image.Image] = {}
    try:
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as fp:  # a real photograph, 512x600
            images["portrait-512x600"] = Image.open(fp).convert("RGB")
    except Exception:  # the bench extra is optional: fall back to generated images only
        pass
    seeds = (1,) if quick else (1, 2)
    for seed in seeds:
        images[f"photo{seed}-2560x1707"] = imagegen.photo((2560, 1707), seed=seed)
    big = images[f"photo{seeds[0]}-2560x1707"]
    images["thumb-300x300"] = resize(crop_to_aspect(big, (300, 300), "center"), crop_size(big.size, (300, 300)))
    return images


def timed(fn: Callable[[], bytes], repeat: int) -> tuple[bytes, float, float]:
    """The output and the best CPU and wall milliseconds over ``repeat`` runs."""
    cpu, wall, data = math.inf, math.inf, b""
    for _ in range(repeat):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        data = fn()
        cpu = min(cpu, time.process_time() - cpu0)
        wall = min(wall, time.perf_counter() - wall0)
    return data, cpu * 1000, wall * 1000


def measure(name: str, im: Image.Image, fmt: str, knob: str, options: EncodeOptions, repeat: int) -> Row:
    data, cpu_ms, wall_ms = timed(lambda: encode(im.copy(), fmt, options), repeat)
    with Image.open(io.BytesIO(data)) as decoded:
        quality = psnr(im, decoded)
    return Row(name, fmt, knob, round(len(data) / 1024, 1), round(cpu_ms, 1), round(wall_ms, 1), round(quality, 2))


def run(quick: bool) -> list[Row]:
    repeat = 1 if quick else 3
    rows: list[Row] = []
    for name, im in inputs(quick).items():
        for method in range(7):
            rows.append(measure(name, im, "webp", f"method={method}", EncodeOptions(webp_method=method), repeat))
        for quality in (70, 75, 80, 85):
            rows.append(measure(name, im, "webp", f"quality={quality}", EncodeOptions(webp_quality=quality), repeat))
        # speeds below 6 take seconds per megapixel: out of the question in a Lambda budget
        for speed in (6, 7, 8, 9, 10):
            rows.append(measure(name, im, "avif", f"speed={speed}", EncodeOptions(avif_speed=speed), repeat))
        for quality in (50, 55, 60, 65, 70):
            rows.append(measure(name, im, "avif", f"quality={quality}", EncodeOptions(avif_quality=quality), repeat))
        for quality in (80, 85):
            rows.append(measure(name, im, "jpeg", f"quality={quality}", EncodeOptions(jpeg_quality=quality), repeat))
    return rows


def markdown(rows: list[Row]) -> str:
    defaults = EncodeOptions()
    lines = [
        f"Other knobs at their defaults (WebP q{defaults.webp_quality} m{defaults.webp_method}, "
        f"AVIF q{defaults.avif_quality} s{defaults.avif_speed}, JPEG q{defaults.jpeg_quality}).",
        "",
        "| image | format | setting | KiB | CPU ms | wall ms | PSNR dB |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    lines += [f"| {r.image} | {r.format} | {r.knob} | {r.kbytes} | {r.cpu_ms} | {r.wall_ms} | {r.psnr} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one generated photo, one repetition")
    parser.add_argument("--out", default="bench/results/encoders", help="writes <out>.json and <out>.md")
    args = parser.parse_args(argv)
    rows = run(args.quick)
    table = markdown(rows)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    out.with_suffix(".md").write_text(table)


if __name__ == "__main__":
    main()
