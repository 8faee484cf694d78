"""One measurement, in a fresh process: ``python -m bench.child`` with a JSON job on stdin,
one JSON result on stdout.

Order matters: everything that is not the operation (imports, Pillow plugin registration,
reading the input) happens before the clock starts and before the memory peak is reset,
so the time and the peak are the operation's own. The peak of the setup is reported too,
because a Lambda function must hold both.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import procstat


def _load_plugins() -> None:
    # Pillow imports its format plugins on first use; doing it now keeps that out of the clock.
    from PIL import Image

    Image.init()
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass


def _load_engine(data: bytes) -> None:
    """The seam loads libvips on the first upload its table sends there (~90 ms CPU, ~13 MiB,
    once per Lambda environment): like Pillow's plugins, load it before the clock, and only when
    this input uses it (an environment that only ever sees JPEGs never maps it)."""
    from imgpipe.imaging import engines, libvips, sniff

    fmt = sniff(data)
    if fmt is not None and engines.engine_for(fmt) == engines.VIPS:
        libvips._pyvips()


def run(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("engine"):
        # the imaging seam's dispatch, forced to one decoding engine (bench.engines' A/B)
        from imgpipe.imaging.engines import FORCE_ENV

        os.environ[FORCE_ENV] = job["engine"]
    from bench import ops

    _load_plugins()
    kind: str = job["op"]
    processor: str = job.get("processor", "")
    settings: dict[str, Any] = job.get("settings", {})
    plan = [ops.Target(**t) for t in job.get("plan", [])]

    if kind == "processor":
        process = ops.load_processor(processor, whole_handler=job.get("whole_handler", False))

        def operation(data: bytes) -> list[ops.Made]:
            return ops.run_processor(process, data, settings)
    elif kind == "naive":

        def operation(data: bytes) -> list[ops.Made]:
            return ops.naive(data, processor, plan)
    elif kind == "floor":

        def operation(data: bytes) -> list[ops.Made]:
            return ops.floor(data, plan)
    elif kind == "pyvips":
        import pyvips  # noqa: F401  (the library load is setup, not work)

        def operation(data: bytes) -> list[ops.Made]:
            return ops.pyvips_thumbnail(data, processor, settings, plan)
    else:
        raise ValueError(f"unknown op {kind!r}")

    data = Path(job["input"]).read_bytes()
    if kind == "processor":
        _load_engine(data)
    gc.collect()
    setup_peak = procstat.peak_rss_kib()
    procstat.reset_peak()
    rss_before = procstat.rss_kib()
    started, cpu_started = time.perf_counter(), time.process_time()
    made = operation(data)
    seconds = time.perf_counter() - started
    # CPU time of all threads: on a busy shared machine it moves less than wall time
    cpu_seconds = time.process_time() - cpu_started
    peak = procstat.peak_rss_kib()

    result: dict[str, Any] = {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_kib": peak,
        "rss_before_kib": rss_before,
        "setup_peak_kib": setup_peak,
        "outputs": [m.describe() for m in made],
    }
    if job.get("outputs_dir") and made:
        # kept for the quality scores, which the parent computes once per input and size
        folder = Path(job["outputs_dir"])
        folder.mkdir(parents=True, exist_ok=True)
        files = []
        for i, m in enumerate(made):
            path = folder / f"{i}-{m.name}.{m.format}"
            path.write_bytes(m.data)
            files.append(str(path))
        result["output_files"] = files
    return result


def main() -> int:
    job = json.loads(sys.stdin.read())
    print(json.dumps(run(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
