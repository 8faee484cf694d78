"""describe's time per upload against thumbnail's, on the image bench's standard inputs
(target: within 1.2x). ``python -m bench.describe [repeats]``, or the ``describe`` part of
``python -m bench`` (the report's "describe vs thumbnail" table and one target line per input).

Both run their pure ``process`` (describe without the index lookup, which is DynamoDB time, not
CPU) in this process, interleaved, so both see the same machine load; CPU seconds, median of the
repeats, as bench/imaging.py does.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import imaging, inputs, ops
from imgpipe.manifest import load_manifest
from imgpipe.registry import DEFAULT_ROOT

PROCESSORS = ("thumbnail", "describe")
#: describe's time per upload stays within this multiple of thumbnail's (it runs on every upload too)
TARGET_RATIO = 1.2


def run(repeats: int = 5, log: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Per input: both processors' median CPU seconds, the ratio and whether it is within the target."""
    procs = {p: (ops.load_processor(p), dict(load_manifest(DEFAULT_ROOT / p).settings)) for p in PROCESSORS}
    specs = {spec.name: spec for spec in imaging.INPUTS}
    data = {name: inputs.ensure(spec).read_bytes() for name, spec in specs.items()}
    times: dict[tuple[str, str], list[float]] = {(s, p): [] for s in data for p in PROCESSORS}
    for round_ in range(repeats + 1):  # the first round warms imports and caches, and is dropped
        log(f"describe vs thumbnail: round {round_}/{repeats}")
        for (name, p), samples in times.items():
            process, settings = procs[p]
            started = time.process_time()
            process(data[name], settings)
            samples.append(time.process_time() - started)
    rows = {}
    for name in data:
        thumb, desc = (statistics.median(times[(name, p)][1:]) for p in PROCESSORS)
        ratio = desc / thumb
        rows[name] = {
            "label": specs[name].label,
            "thumbnail_cpu_s": thumb,
            "describe_cpu_s": desc,
            "ratio": ratio,
            "met": ratio <= TARGET_RATIO,
        }
    return {"repeats": repeats, "target_ratio": TARGET_RATIO, "inputs": rows}


if __name__ == "__main__":
    for name, row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)["inputs"].items():
        thumb, desc = row["thumbnail_cpu_s"] * 1000, row["describe_cpu_s"] * 1000
        print(f"{name:10} thumbnail {thumb:7.0f} ms  describe {desc:7.0f} ms  ratio {row['ratio']:.2f}")
