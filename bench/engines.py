"""The decoding engines raced: imgpipe's processors with the seam's dispatch forced to Pillow,
then to libvips, beside pyvips' own ``thumbnail_buffer``, on the bench's standard inputs.

    PYTHONPATH=. .venv/bin/python -m bench.engines [--repeats 3] [--out bench/results/engines]

Same method as the image bench (``bench/imaging.py``): a fresh process per operation, CPU time
of all threads, VmHWM as the peak, worst SSIM against a full-decode Lanczos reference. The
dispatch table in ``imgpipe/imaging/engines.py`` is chosen from this table; docs/decisions.md
records the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import imaging
from imgpipe.imaging.engines import DISPATCH, PILLOW
from imgpipe.manifest import load_manifest
from imgpipe.registry import services_root

OPERATIONS: dict[str, tuple[str, ...]] = {
    "thumbnail": ("pillow", "vips", "pyvips"),
    "resize": ("pillow", "vips", "pyvips"),
    "convert": ("pillow", "vips"),
}
OUT = Path(__file__).resolve().parent / "results" / "engines"


def _cell(case: Mapping[str, Any]) -> tuple[str, str, str]:
    if "error" in case:
        return "error", "error", "-"
    ssim = min((q["ssim"] for q in case.get("quality", [])), default=None)
    return f"{case['cpu_seconds'] * 1000:.0f}", f"{case['peak_mib']:.0f}", "-" if ssim is None else f"{ssim:.4f}"


def _ratio(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> str:
    if "error" in a or "error" in b or not b.get(key):
        return "-"
    return f"{a[key] / b[key]:.2f}"


def markdown(result: Mapping[str, Any]) -> str:
    cases = result["cases"]
    lines = [
        "# Decoding engines: Pillow against libvips behind the imaging seam",
        "",
        f"Generated {result['generated_at']} by `python -m bench.engines` ({result['repeats']} repeats, median), "
        f"{result['machine']}. CPU ms of all threads, peak = VmHWM MiB of the fresh process, "
        "SSIM = worst output against the full-decode Lanczos reference. *picked / pyvips*: the engine the "
        "table picks for the format, against pyvips' own thumbnail_buffer per output.",
        "",
        "| input | processor | Pillow CPU ms | Pillow peak | Pillow SSIM | libvips CPU ms | libvips peak "
        "| libvips SSIM | pyvips CPU ms | pyvips peak | pyvips SSIM | table picks | picked / pyvips (time, peak) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, info in result["inputs"].items():
        for p in OPERATIONS:
            get = lambda op, p=p, name=name: cases.get(f"{name}/{p}/{op}", {"error": "not run"})  # noqa: E731
            pil, vips, pyv = get("pillow"), get("vips"), get("pyvips")
            picked = DISPATCH.get(info["format"], PILLOW)
            chosen = vips if picked == "vips" else pil
            vs = "-" if p == "convert" else f"{_ratio(chosen, pyv, 'cpu_seconds')}, {_ratio(chosen, pyv, 'peak_mib')}"
            row = [name, p, *_cell(pil), *_cell(vips), *(_cell(pyv) if p != "convert" else ("-", "-", "-"))]
            lines.append("| " + " | ".join([*row, picked, vs]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.cli import machine

    parser = argparse.ArgumentParser(prog="python -m bench.engines", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT, help="writes <out>.json and <out>.md")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    # the three image processors only: a half-built folder elsewhere must not stop the race
    manifests = [load_manifest(services_root() / name) for name in OPERATIONS]
    result = imaging.run(manifests, args.repeats, log, operations=OPERATIONS)
    m = machine()
    result["machine"] = f"{m['cpu']} ({m['cores']} cores, {m['arch']}), Python {m['python']}"
    result["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result.pop("checks", None)  # the targets are judged by the image bench, not here
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
