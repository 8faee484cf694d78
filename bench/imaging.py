"""The imaging bench: imgpipe's processors against the naive baseline, the decode floor and
pyvips, on the same files, side by side in one run, with quality beside speed.

Repeats are interleaved (every case once, then every case again, ...) so that a noisy
neighbour on the shared machine slows all cases a little rather than one case a lot; the
median of the repeats is reported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from PIL import Image

from bench import inputs, measure, ops
from imgpipe.manifest import Manifest

#: the operations raced per processor. Convert has no pyvips twin: thumbnail_buffer does not
#: cover what convert makes (several encodings of one capped size), and no target asks for it.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "thumbnail": ("processor", "naive", "floor", "pyvips"),
    "resize": ("processor", "naive", "floor", "pyvips"),
    "convert": ("processor", "naive", "floor"),
}
INPUTS = (inputs.JPEG24, inputs.JPEG24_PROGRESSIVE, inputs.PNG12_ALPHA, inputs.WEBP12)
#: operations that run the processor itself: with the seam's dispatch table, or with the
#: dispatch forced to one decoding engine (the A/B of ``python -m bench.engines``)
PROCESSOR_OPS: dict[str, str | None] = {"processor": None, "pillow": "pillow", "vips": "vips"}

# Targets the project set itself (docs/benchmarks.md): not to be relaxed to make a run pass.
THUMBNAIL_MAX_FLOOR_RATIO = 1.25
THUMBNAIL_MIN_SPEEDUP = 3.0
RESIZE_MIN_SPEEDUP = 2.0
MAX_PEAK_RATIO = 0.5
#: times are compared as CPU seconds (all threads of the measured process): the operations do
#: no I/O, so on an idle machine CPU time is their wall time, and on the shared bench machine it
#: leaves out the time spent waiting for a core. Wall medians are reported beside them.
TIME = "cpu_seconds"
#: a speed-up may not cost visible quality: the processor's worst SSIM against the Lanczos
#: reference may trail the naive baseline's worst by at most this much.
SSIM_TOLERANCE = 0.01
#: with the libvips engine in the seam, quality may not fall below the Pillow-only one's. "Today" is
#: the processors' worst SSIM in bench/results/latest.md as committed before the engine's first
#: full run (generated 2026-11-22T19:50:15Z, Pillow only), at the 4 decimals it printed.
SSIM_BASELINE: dict[str, float] = {
    "jpeg24/thumbnail": 0.9651,
    "jpeg24/resize": 0.9624,
    "jpeg24/convert": 0.9478,
    "jpeg24p/thumbnail": 0.9651,
    "jpeg24p/resize": 0.9624,
    "jpeg24p/convert": 0.9478,
    "png12a/thumbnail": 0.9805,
    "png12a/resize": 0.9805,
    "png12a/convert": 0.9903,
    "webp12/thumbnail": 0.9690,
    "webp12/resize": 0.9554,
    "webp12/convert": 0.9141,
}


def _source_info(spec: inputs.InputSpec) -> tuple[tuple[int, int], bool]:
    with Image.open(inputs.path_for(spec)) as img:
        return img.size, ops.has_alpha(img)


def run(
    manifests: Sequence[Manifest],
    repeats: int,
    log: Callable[[str], None],
    operations: Mapping[str, Sequence[str]] = OPERATIONS,
) -> dict[str, Any]:
    by_name = {m.name: m for m in manifests}
    processors = [p for p in operations if p in by_name]
    cases: list[tuple[inputs.InputSpec, str, str]] = [
        (spec, p, op) for spec in INPUTS for p in processors for op in operations[p]
    ]
    for spec in INPUTS:
        inputs.ensure(spec)
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {(s.name, p, op): [] for s, p, op in cases}
    plans: dict[tuple[str, str], list[ops.Target]] = {}
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-outputs-") as outputs_dir:
        for round_no in range(repeats):
            log(f"image bench: round {round_no + 1}/{repeats} ({len(cases)} cases)")
            for spec, p, op in cases:
                # the first round keeps its outputs, to score their quality afterwards
                keep = str(Path(outputs_dir) / spec.name / p / op) if round_no == 0 else None
                result = _measure_case(spec, p, op, dict(by_name[p].settings), plans, keep)
                runs[(spec.name, p, op)].append(result)
                if "error" in result and round_no == 0:
                    log(f"  {spec.name} {p} {op}: ERROR {result['error']}")
        results = {f"{s}/{p}/{op}": measure.summarise(r) for (s, p, op), r in runs.items()}
        log("image bench: scoring quality against the Lanczos references")
        for spec in INPUTS:
            _score(spec, {k: v for k, v in runs.items() if k[0] == spec.name}, results)
    return {
        "inputs": {s.name: _describe_input(s) for s in INPUTS},
        "cases": results,
        "checks": checks(results, processors),
        "repeats": repeats,
    }


def _measure_case(
    spec: inputs.InputSpec,
    p: str,
    op: str,
    settings: dict[str, Any],
    plans: dict[tuple[str, str], list[ops.Target]],
    outputs_dir: str | None,
) -> dict[str, Any]:
    plan_key = (spec.name, p)
    if plan_key not in plans:
        size, alpha = _source_info(spec)
        plans[plan_key] = ops.default_plan(p, settings, size, alpha)
    job = {
        "op": "processor" if op in PROCESSOR_OPS else op,
        "engine": PROCESSOR_OPS.get(op),
        "processor": p,
        "input": str(inputs.path_for(spec)),
        "settings": settings,
        "plan": [asdict(t) for t in plans[plan_key]],
        "outputs_dir": outputs_dir,
    }
    result = measure.run_job(job)
    if op in PROCESSOR_OPS and "error" not in result and result["outputs"]:
        # naive and pyvips make exactly what the processor made (same sizes, formats)
        plans[plan_key] = [ops.Target(o["name"], o["format"], o["width"], o["height"]) for o in result["outputs"]]
    return result


def _score(
    spec: inputs.InputSpec,
    runs: Mapping[tuple[str, str, str], list[dict[str, Any]]],
    results: dict[str, dict[str, Any]],
) -> None:
    """Quality of every kept output of this input; one full decode, one reference per size."""
    from bench import quality  # numpy (bench extra)

    source = quality.reference_source(inputs.path_for(spec).read_bytes())
    references: dict[tuple[int, int], Any] = {}
    for (s, p, op), case_runs in runs.items():
        files = case_runs[0].get("output_files", []) if case_runs else []
        if not files or "error" in results[f"{s}/{p}/{op}"]:
            continue
        results[f"{s}/{p}/{op}"]["quality"] = [
            quality.score(Path(f).name.split("-", 1)[1], source, Path(f).read_bytes(), references).__dict__
            for f in files
        ]


def _describe_input(spec: inputs.InputSpec) -> dict[str, Any]:
    path = inputs.path_for(spec)
    return {
        "label": spec.label,
        "width": spec.width,
        "height": spec.height,
        "format": spec.format,
        "bytes": path.stat().st_size,
        "megapixels": round(spec.megapixels, 1),
    }


def _min_ssim(case: Mapping[str, Any]) -> float | None:
    scores = [q["ssim"] for q in case.get("quality", [])]
    return min(scores) if scores else None


def _check(
    name: str, value: float | None, limit: float, *, at_most: bool, detail: str, bound: float | None = None
) -> dict[str, Any]:
    """``bound`` is the best value any implementation could reach on this input: the same ratio
    with the decode floor in the processor's place. When even the floor misses the limit, the
    target cannot be met by doing less work, only by decoding differently; the report says so."""

    def ok(v: float | None) -> bool | None:
        return None if v is None else (v <= limit if at_most else v >= limit)

    return {
        "check": name,
        "value": None if value is None else round(value, 3),
        "limit": limit,
        "at_most": at_most,
        "met": ok(value),
        "bound": None if bound is None else round(bound, 3),
        "floor_meets_it": ok(bound),
        "detail": detail,
    }


def checks(cases: Mapping[str, Mapping[str, Any]], processors: Sequence[str]) -> list[dict[str, Any]]:
    """Every target, per input: the ratio, the limit, and whether it is met. ``met`` is None
    when a side could not be measured (an error is a miss to report, not a pass)."""

    def ratio(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> float | None:
        if "error" in a or "error" in b or not b.get(key):
            return None
        return float(a[key]) / float(b[key])

    out: list[dict[str, Any]] = []
    for spec in INPUTS:
        for p in processors:
            get = lambda op, p=p, s=spec.name: cases.get(f"{s}/{p}/{op}", {"error": "not run"})  # noqa: E731
            proc, naive, floor, vips = get("processor"), get("naive"), get("floor"), get("pyvips")
            p_ssim, n_ssim = _min_ssim(proc), _min_ssim(naive)
            # (what, value, limit, at_most, why, bound)
            rows: list[tuple[str, float | None, float, bool, str, float | None]] = []
            if p == "thumbnail":
                time_vs_floor = ratio(proc, floor, TIME)
                rows.append(("time / floor", time_vs_floor, THUMBNAIL_MAX_FLOOR_RATIO, True, "near the floor", 1.0))
            if p in ("thumbnail", "resize"):
                need = THUMBNAIL_MIN_SPEEDUP if p == "thumbnail" else RESIZE_MIN_SPEEDUP
                speedup, best = ratio(naive, proc, TIME), ratio(naive, floor, TIME)
                rows.append(("speed-up over naive", speedup, need, False, "naive / imgpipe", best))
                rows.append(
                    (
                        "time / pyvips",
                        ratio(proc, vips, TIME),
                        1.0,
                        True,
                        "no slower than pyvips",
                        ratio(floor, vips, TIME),
                    )
                )
            peak, best = ratio(proc, naive, "peak_mib"), ratio(floor, naive, "peak_mib")
            rows.append(("peak RSS / naive", peak, MAX_PEAK_RATIO, True, "VmHWM ratio", best))
            if p in ("thumbnail", "resize"):
                peak, best = ratio(proc, vips, "peak_mib"), ratio(floor, vips, "peak_mib")
                rows.append(("peak RSS / pyvips", peak, 1.0, True, "no more memory than pyvips", best))
            ssim_gap = None if p_ssim is None or n_ssim is None else p_ssim - n_ssim
            rows.append(("worst SSIM - naive's", ssim_gap, -SSIM_TOLERANCE, False, "no visible quality lost", None))
            baseline = SSIM_BASELINE.get(f"{spec.name}/{p}")
            if baseline is not None:
                # compared at the baseline's own precision, so rounding alone is never a miss
                drop = None if p_ssim is None else round(p_ssim, 4) - baseline
                rows.append((f"worst SSIM - today's ({baseline})", drop, 0.0, False, "not below today's", None))
            out += [
                _check(f"{spec.name} {p}: {what}", value, limit, at_most=at_most, detail=why, bound=bound)
                for what, value, limit, at_most, why, bound in rows
            ]
    return out
