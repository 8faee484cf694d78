"""Runs measurements in fresh processes and summarises repeats.

Every job is a new interpreter (``python -m bench.child``), so no operation inherits
another's heap, caches or imported modules, and each one's ``VmHWM`` is its own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import inputs

ROOT = Path(__file__).resolve().parent.parent


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    # Pillow works on one core; Lambda below 1769 MB has less than one vCPU. libvips would
    # otherwise use every core of the bench machine, which would not be a like-for-like race.
    env["VIPS_CONCURRENCY"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra or {})
    return env


def run_job(job: Mapping[str, Any], timeout_s: float = 300) -> dict[str, Any]:
    """One measurement. Failures come back as ``{"error": ...}``: a bench never hides them."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.child"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=child_env(),
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        return {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def summarise(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Median time and peak over the successful repeats; the first run's outputs and quality."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return {"error": runs[0]["error"] if runs else "not run", "repeats": 0}
    first = ok[0]
    summary: dict[str, Any] = {
        "repeats": len(ok),
        "seconds": median([r["seconds"] for r in ok]),
        "seconds_all": [round(r["seconds"], 4) for r in ok],
        "cpu_seconds": median([r.get("cpu_seconds", r["seconds"]) for r in ok]),
        "peak_mib": median([r["peak_kib"] for r in ok]) / 1024,
        "op_mib": median([r["peak_kib"] - r["rss_before_kib"] for r in ok]) / 1024,
        "setup_peak_mib": median([r["setup_peak_kib"] for r in ok]) / 1024,
        "outputs": first["outputs"],
    }
    failed = [r["error"] for r in runs if "error" in r]
    if failed:
        summary["failed_repeats"] = failed
    return summary


def processor_runs(
    processors: Sequence[Any],
    specs: Sequence[Any],
    repeats: int,
    log: Callable[[str], None],
    label: str,
    timeout_s: float = 300,
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every processor's whole handler (manifest settings) on every input, ``repeats`` rounds, each
    run a fresh process; the runs by (processor, input name). A failure is logged the first time."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {(m.name, s.name): [] for m in processors for s in specs}
    for round_no in range(repeats):
        log(f"{label}: round {round_no + 1}/{repeats}")
        for m in processors:
            for spec in specs:
                job = {
                    "op": "processor",
                    "processor": m.name,
                    "whole_handler": True,
                    "input": str(inputs.path_for(spec)),
                    "settings": dict(m.settings),
                }
                result = run_job(job, timeout_s=timeout_s)
                if "error" in result and not any("error" in r for r in runs[(m.name, spec.name)]):
                    log(f"  {m.name} {spec.name}: ERROR {result['error']}")
                runs[(m.name, spec.name)].append(result)
    return runs


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages when a part ran: the bench shares it."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []
