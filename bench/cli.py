"""``python -m bench [--quick]``: run every bench, write bench/results/, print the targets.

Order: image bench, per-processor cost, cold start, package, then the local stack's
throughput (it loads both cores, so it runs last and never overlaps a measurement).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import cap, coldstart, convert, cost, describe, imaging, package, report, throughput
from imgpipe.registry import discover

RESULTS = Path(__file__).resolve().parent / "results"
#: cap before cost: the cost curves start at the memory the cap part measured
ALL_PARTS = ("imaging", "cap", "cost", "describe", "convert", "coldstart", "package", "throughput")
#: what the bench imports beyond the runtime (pyproject's ``bench`` extra). The chart is drawn
#: at the very end, so a missing one is reported before a 30-minute run, not after it.
BENCH_MODULES = ("matplotlib", "numpy", "pyvips")


def missing_modules() -> list[str]:
    return [name for name in BENCH_MODULES if importlib.util.find_spec(name) is None]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and uploads (under 3 minutes)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder (default: bench/results)")
    parser.add_argument(
        "--workers", type=int, default=4, help="local stack: invocations at once per processor (imgpipe's default)"
    )
    parser.add_argument(
        "--uploads",
        type=int,
        default=None,
        help="uploads in the throughput part's large burst (50 quick, 500 full; the small one: 20, 50)",
    )
    parser.add_argument("--only", choices=ALL_PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument(
        "--merge", action="store_true", help="with --only: keep the other parts of the existing latest.json"
    )
    args = parser.parse_args(argv)
    parts = args.only or list(ALL_PARTS)
    missing = missing_modules()
    if missing:
        _log(f"missing {', '.join(missing)}: the bench needs the bench extra (`make bench` installs it from uv.lock)")
        return 2

    manifests = discover()
    # quick mode is a smoke run that must fit in 3 minutes on 2 cores: one repeat per image case
    # (no median); the figures to quote come from the full run
    repeats = (
        {"imaging": 1, "cost": 1, "cap": 1, "describe": 1, "convert": 1, "coldstart": 5}
        if args.quick
        else {"imaging": 5, "cost": 3, "cap": 2, "describe": 5, "convert": 3, "coldstart": 15}
    )
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "imaging": lambda: imaging.run(manifests, repeats["imaging"], _log),
        "cost": lambda: cost.run(manifests, repeats["cost"], _log, result.get("cap")),
        "cap": lambda: cap.run(manifests, repeats["cap"], _log),
        "describe": lambda: describe.run(repeats["describe"], _log),
        "convert": lambda: convert.run(repeats["convert"], _log),
        "coldstart": lambda: coldstart.run([*manifests, *discover(http=True)], repeats["coldstart"], _log),
        "package": lambda: package.run(_log),
        "throughput": lambda: throughput.run(
            manifests,
            20 if args.quick else 50,
            args.uploads or (50 if args.quick else 500),
            100 if args.quick else throughput.SMALL_FILES_FULL,
            args.workers,
            _log,
            50 if args.quick else throughput.TINY_FILES_FULL,
        ),
    }
    latest = args.out / "latest.json"
    result: dict[str, Any] = json.loads(latest.read_text()) if args.merge and latest.exists() else {}
    result.setdefault("elapsed_s_by_part", {})
    result.setdefault("generated_at_by_part", {})
    result.update(quick=args.quick, machine=machine())
    for part in ALL_PARTS:
        if part in parts:
            t0 = time.perf_counter()
            result["generated_at_by_part"][part] = datetime.now(UTC).isoformat(timespec="seconds")
            result[part] = runners[part]()
            result["elapsed_s_by_part"][part] = round(time.perf_counter() - t0, 1)
            result["generated_at"] = min(result["generated_at_by_part"].values())
            result["elapsed_s"] = round(sum(result["elapsed_s_by_part"].values()), 1)
            # written after every part: a later part's crash must not lose what was measured
            args.out.mkdir(parents=True, exist_ok=True)
            latest.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    (args.out / "latest.md").write_text(report.markdown(result))
    if "imaging" in result:
        report.chart(result, args.out / "latest.png")
    print(report.console_summary(result))
    _log(f"wrote {args.out}/latest.json, latest.md, latest.png in {result['elapsed_s']} s")
    return 0
