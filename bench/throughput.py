"""Throughput of the local stack: N uploads through ``imgpipe local run --json``.

The CLI starts an embedded moto server, uploads every file one after the other, waits until
every upload has its email (or a verdict), copies the variants out and stops. Its wall time
therefore includes a fixed start-up cost; it is measured with a single upload and subtracted:
throughput = (N - 1) / (wall(N) - wall(1)). Latency is the CLI's own per-upload figure, from
the start of that upload to its terminal state: the uploads arrive together, so the later
ones queue and p95 shows how long a burst takes to drain.

The photos are 2 MP JPEGs (1600x1200, a typical web upload): eight distinct crops of one
generated picture, linked under N keys, so a quick run stays quick and every upload does
real work (nothing is de-duplicated by content).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import ImageOps

from bench import inputs, measure

PHOTO_SIZE = (1600, 1200)
DISTINCT_PHOTOS = 8
TIMEOUT_PER_UPLOAD_S = 3.0


def _photos() -> list[Path]:
    folder = inputs.cache_dir() / "throughput"
    paths = [folder / f"photo-{i}.jpg" for i in range(DISTINCT_PHOTOS)]
    if all(p.exists() for p in paths):
        return paths
    folder.mkdir(parents=True, exist_ok=True)
    w, h = PHOTO_SIZE
    big = inputs.render(inputs.InputSpec("throughput", w * 2, h * 2, "jpeg"))
    tiles = [big.crop((x, y, x + w, y + h)) for y in (0, h) for x in (0, w)]
    for i, path in enumerate(paths):
        tile = tiles[i % len(tiles)]
        (ImageOps.mirror(tile) if i >= len(tiles) else tile).save(path, "JPEG", quality=90)
    return paths


def _local_run(files_dir: Path, workers: int, timeout_s: float) -> tuple[float, list[dict[str, Any]], str]:
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-run-") as tmp:
        cmd = [
            str(Path(os.sys.executable).with_name("imgpipe")),
            "local",
            "run",
            str(files_dir),
            "--json",
            "--workers",
            str(workers),
            "--timeout",
            str(int(timeout_s)),
            "--out",
            str(Path(tmp) / "out"),
            "--outbox",
            str(Path(tmp) / "outbox"),
        ]
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, cwd=measure.ROOT, env=measure.child_env(), timeout=timeout_s + 120
            )
        except subprocess.TimeoutExpired:
            # a stack that does not drain is a result to report, not a crash that loses the other parts
            wall = time.perf_counter() - started
            return wall, [], f"the local run did not finish in {wall:.0f} s (its --timeout: {timeout_s:.0f} s)"
        wall = time.perf_counter() - started
    lines = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    err = "" if proc.returncode == 0 else (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
    return wall, lines, err


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def run(n: int, workers: int, log: Callable[[str], None]) -> dict[str, Any]:
    if shutil.which("imgpipe", path=str(Path(os.sys.executable).parent)) is None:
        return {"error": "the imgpipe CLI is not installed in this environment (pip install -e .)"}
    photos = _photos()
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-uploads-") as tmp:
        one, many = Path(tmp) / "one", Path(tmp) / "many"
        one.mkdir()
        many.mkdir()
        (one / "photo-0000.jpg").symlink_to(photos[0])
        for i in range(n):
            (many / f"photo-{i:04d}.jpg").symlink_to(photos[i % len(photos)])
        log(f"throughput: 1 upload, then {n} uploads, {workers} worker(s) per processor")
        wall_one, _, err_one = _local_run(one, workers, 60)
        wall_n, lines, err_n = _local_run(many, workers, 60 + TIMEOUT_PER_UPLOAD_S * n)
    if err_one or err_n or not lines:
        return {"error": err_n or err_one or "no output", "n": n, "workers": workers, "statuses": {}}
    statuses = Counter(ln["status"] for ln in lines)
    latencies = [float(ln["seconds"]) for ln in lines]
    work_s = wall_n - wall_one
    return {
        "n": n,
        "workers_per_processor": workers,
        "photo": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG",
        "wall_s_one_upload": round(wall_one, 2),
        "wall_s_all": round(wall_n, 2),
        "uploads_per_s": round((n - 1) / work_s, 2) if work_s > 0 else None,
        "latency_p50_s": round(_percentile(latencies, 0.5), 2),
        "latency_p95_s": round(_percentile(latencies, 0.95), 2),
        "latency_max_s": round(max(latencies), 2),
        "statuses": dict(statuses),
        "variants_per_upload": round(sum(len(ln["variants"]) for ln in lines) / len(lines), 2),
        "all_completed": statuses.get("completed", 0) == n,
    }
