"""Throughput of the local stack: bursts of uploads through ``imgpipe local run --json``.

The CLI starts the stack (moto and the handlers' worker processes), uploads every file, waits
until every upload has its email (or a verdict), copies the variants out and stops. Its wall time
therefore includes a fixed start-up cost; it is measured with a single upload and subtracted:
throughput = (N - 1) / (wall(N) - wall(1)). Latency is the CLI's own per-upload figure, from
the start of that upload to its terminal state: the uploads arrive together, so the later
ones queue and p95 shows how long a burst takes to drain.

The photos are 2 MP JPEGs (1600x1200, a typical web upload): eight distinct crops of one
generated picture, linked under N keys, so a quick run stays quick and every upload does
real work (nothing is de-duplicated by content).

Judged here, all in the same run:
- the large burst's throughput is at least 0.8x the small burst's (nothing grows with the burst);
- the large burst reaches at least 0.65 of the CPU floor: cores / the CPU-seconds every producer
  the stack deploys (:func:`floor_processors`) spends on one such photo, each whole handler
  measured in a fresh process on a rendered 1600x1200 JPEG of the same generator;
- (full run) a folder of 1,000 small images (under 0.1 MP, mixed JPEG/PNG/WebP) goes through
  ``imgpipe local run``, variants copied out included, in under 5 minutes;
- (full run) a folder of 300 tiny images (32-96 px: the image work is a few ms, so what is timed
  is the stack's own cost per upload) goes through at 5 uploads/s or more, its start-up (one tiny
  image) subtracted as for the bursts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PIL import ImageOps

from bench import inputs, measure
from imgpipe.registry import select

PHOTO_SIZE = (1600, 1200)
DISTINCT_PHOTOS = 8
TIMEOUT_PER_UPLOAD_S = 3.0
#: the photo the CPU floor is measured on (same generator and size as the uploads)
FLOOR_PHOTO = inputs.InputSpec("throughput-floor", PHOTO_SIZE[0], PHOTO_SIZE[1], "jpeg", label="2 MP JPEG")
#: the targets (docs/benchmarks.md)
BURST_RATIO_MIN = 0.8
FLOOR_FRACTION_MIN = 0.65
SMALL_FILES_FULL = 1000
SMALL_FILES_LIMIT_S = 300.0
TINY_FILES_FULL = 300
TINY_UPLOADS_PER_S_MIN = 5.0


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


def _small_images(n: int) -> Path:
    """``n`` varied small images (under 0.1 MP: 120-360 by 100-270 px, half JPEG, a quarter
    each PNG and WebP), generated once into the bench cache."""
    return _generated_images("small", n, (120, 360), (100, 270))


def tiny_images(n: int) -> Path:
    """``n`` varied tiny images (icons and avatars: 32-96 by 24-72 px, the same mix of formats),
    on which the image work is a few milliseconds: what remains is the stack's own cost per upload."""
    return _generated_images("tiny", n, (32, 96), (24, 72))


def _generated_images(kind: str, n: int, widths: tuple[int, int], heights: tuple[int, int]) -> Path:
    import random

    from PIL import Image, ImageDraw

    folder = inputs.cache_dir() / f"{kind}-{n}"
    if folder.is_dir() and len(list(folder.iterdir())) == n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(15)
    for i in range(n):
        w, h = rng.randint(*widths), rng.randint(*heights)
        img = Image.new("RGB", (w, h), tuple(rng.randint(0, 255) for _ in range(3)))
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x, y = rng.randint(0, w), rng.randint(0, h)
            box = (x, y, x + rng.randint(5, 80), y + rng.randint(5, 80))
            draw.ellipse(box, fill=tuple(rng.randint(0, 255) for _ in range(3)))
        fmt = rng.choice(["JPEG", "JPEG", "PNG", "WEBP"])
        img.save(folder / f"{kind}-{i:04d}.{fmt.lower().replace('jpeg', 'jpg')}", fmt)
    return folder


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


def _burst(files: Path, n: int, workers: int, wall_one: float) -> dict[str, Any]:
    wall_n, lines, err = _local_run(files, workers, 60 + TIMEOUT_PER_UPLOAD_S * n)
    if err or not lines:
        return {"error": err or "no output", "n": n}
    statuses = Counter(ln["status"] for ln in lines)
    latencies = [float(ln["seconds"]) for ln in lines]
    work_s = wall_n - wall_one
    return {
        "n": n,
        "wall_s_all": round(wall_n, 2),
        "uploads_per_s": round((n - 1) / work_s, 3) if work_s > 0 else None,
        "latency_p50_s": round(_percentile(latencies, 0.5), 2),
        "latency_p95_s": round(_percentile(latencies, 0.95), 2),
        "latency_max_s": round(max(latencies), 2),
        "statuses": dict(statuses),
        "variants_per_upload": round(sum(len(ln["variants"]) for ln in lines) / len(lines), 2),
        "all_completed": statuses.get("completed", 0) == n,
    }


def floor_processors(manifests: Sequence[Any]) -> list[Any]:
    """The services whose image work the floor counts: every producer that ``imgpipe local run``
    deploys (the default selection), so a new default producer counts without an edit here."""
    return [m for m in select(manifests, None) if m.produces_variants]


def cpu_floor(manifests: Sequence[Any], log: Callable[[str], None], repeats: int = 3) -> dict[str, Any]:
    """Uploads/s the cores could reach if they did nothing but the image work."""
    inputs.ensure(FLOOR_PHOTO)
    processors = floor_processors(manifests)
    runs = measure.processor_runs(processors, [FLOOR_PHOTO], repeats, log, "throughput: CPU floor")
    per_processor = {}
    for m in processors:
        summary = measure.summarise(runs[(m.name, FLOOR_PHOTO.name)])
        if "error" in summary:
            return {"error": f"{m.name}: {summary['error']}"}
        per_processor[m.name] = round(summary["cpu_seconds"], 4)
    cpu_s = sum(per_processor.values())
    cores = os.cpu_count() or 1
    return {
        "cores": cores,
        "cpu_s_per_upload": round(cpu_s, 4),
        "cpu_s_by_processor": per_processor,
        "uploads_per_s": round(cores / cpu_s, 3),
    }


def run(
    manifests: Sequence[Any],
    small_n: int,
    large_n: int,
    small_files: int,
    workers: int,
    log: Callable[[str], None],
    tiny_files: int = TINY_FILES_FULL,
) -> dict[str, Any]:
    if shutil.which("imgpipe", path=str(Path(os.sys.executable).parent)) is None:
        return {"error": "the imgpipe CLI is not installed in this environment (pip install -e .)"}
    floor = cpu_floor(manifests, log)
    photos = _photos()
    result: dict[str, Any] = {"photo": f"{PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEG", "workers_per_processor": workers}
    result["processes"] = os.cpu_count() or 1
    result["floor"] = floor
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-uploads-") as tmp:
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "photo-0000.jpg").symlink_to(photos[0])
        log("throughput: 1 upload (the start-up cost)")
        wall_one, _, err_one = _local_run(one, workers, 60)
        if err_one:
            return {**result, "error": err_one}
        result["wall_s_one_upload"] = round(wall_one, 2)
        bursts = {}
        for n in (small_n, large_n):
            many = Path(tmp) / f"many-{n}"
            many.mkdir()
            for i in range(n):
                (many / f"photo-{i:04d}.jpg").symlink_to(photos[i % len(photos)])
            log(f"throughput: {n} uploads, {workers} invocation(s) at once per processor")
            bursts[str(n)] = _burst(many, n, workers, wall_one)
            log(f"  {bursts[str(n)]}")
        result["bursts"] = bursts
    small, large = bursts[str(small_n)], bursts[str(large_n)]
    result |= judge_bursts(small, large, floor)
    result["all_completed"] = bool(small.get("all_completed") and large.get("all_completed"))
    folder = _small_images(small_files)
    log(f"throughput: a folder of {small_files} small images")
    wall, lines, err = _local_run(folder, workers, 60 + TIMEOUT_PER_UPLOAD_S * small_files)
    statuses = Counter(ln["status"] for ln in lines)
    result["small_files"] = {
        "n": small_files,
        "wall_s": round(wall, 1),
        "statuses": dict(statuses),
        "error": err or None,
        # judged only at the size the target names
        "met": (not err and statuses.get("completed", 0) == small_files and wall < SMALL_FILES_LIMIT_S)
        if small_files == SMALL_FILES_FULL
        else None,
    }
    result["tiny_files"] = _tiny_run(tiny_files, workers, log)
    return result


def judge_bursts(small: dict[str, Any], large: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    """The large burst against the small one and against the CPU floor (when both were measured)."""
    judged: dict[str, Any] = {}
    if small.get("uploads_per_s") and large.get("uploads_per_s"):
        judged["burst_ratio"] = round(large["uploads_per_s"] / small["uploads_per_s"], 3)
        judged["burst_ratio_met"] = judged["burst_ratio"] >= BURST_RATIO_MIN
        if "uploads_per_s" in floor:
            judged["floor_fraction"] = round(large["uploads_per_s"] / floor["uploads_per_s"], 3)
            judged["floor_fraction_met"] = judged["floor_fraction"] >= FLOOR_FRACTION_MIN
    return judged


def _tiny_run(n: int, workers: int, log: Callable[[str], None]) -> dict[str, Any]:
    """A folder of ``n`` tiny images, and one of them alone for the start-up to subtract."""
    folder = tiny_images(n)
    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-tiny-") as tmp:
        one = Path(tmp) / "one"
        one.mkdir()
        first = sorted(folder.iterdir())[0]
        (one / first.name).symlink_to(first)
        log("throughput: 1 tiny image (the start-up cost)")
        wall_one, _, err = _local_run(one, workers, 60)
    if err:
        return {"n": n, "error": err}
    log(f"throughput: a folder of {n} tiny images")
    wall, lines, err = _local_run(folder, workers, 60 + TIMEOUT_PER_UPLOAD_S * n)
    return tiny_result(n, wall, wall_one, [ln["status"] for ln in lines], err)


def tiny_result(n: int, wall: float, wall_one: float, statuses_seen: list[str], err: str) -> dict[str, Any]:
    """The tiny images' rate, start-up subtracted, and its verdict (only at the size the target names)."""
    statuses = Counter(statuses_seen)
    work_s = wall - wall_one
    rate = round((n - 1) / work_s, 3) if work_s > 0 and not err else None
    completed = statuses.get("completed", 0) == n
    return {
        "n": n,
        "wall_s": round(wall, 1),
        "wall_s_one": round(wall_one, 2),
        "uploads_per_s": rate,
        "statuses": dict(statuses),
        "error": err or None,
        "met": (completed and rate is not None and rate >= TINY_UPLOADS_PER_S_MIN) if n == TINY_FILES_FULL else None,
    }
