"""describe's time per upload against thumbnail's, on the image bench's standard inputs
(issue 16: within 1.2x). ``python -m bench.describe [repeats]``.

Both run their pure ``process`` (describe without the index lookup, which is DynamoDB time, not
CPU) in this process, interleaved; CPU seconds, median of the repeats, as bench/imaging.py does.
"""

from __future__ import annotations

import statistics
import sys
import time

from bench import imaging, inputs, ops
from imgpipe.manifest import load_manifest
from imgpipe.registry import DEFAULT_ROOT

PROCESSORS = ("thumbnail", "describe")


def run(repeats: int = 5) -> dict[str, dict[str, float]]:
    procs = {p: (ops.load_processor(p), dict(load_manifest(DEFAULT_ROOT / p).settings)) for p in PROCESSORS}
    data = {spec.name: inputs.ensure(spec).read_bytes() for spec in imaging.INPUTS}
    times: dict[tuple[str, str], list[float]] = {(s, p): [] for s in data for p in PROCESSORS}
    for _ in range(repeats + 1):  # the first round warms imports and caches, and is dropped
        for (name, p), samples in times.items():
            process, settings = procs[p]
            started = time.process_time()
            process(data[name], settings)
            samples.append(time.process_time() - started)
    return {
        name: {p: statistics.median(times[(name, p)][1:]) for p in PROCESSORS}
        | {
            "ratio": statistics.median(times[(name, "describe")][1:])
            / statistics.median(times[(name, "thumbnail")][1:])
        }
        for name in data
    }


if __name__ == "__main__":
    for name, row in run(int(sys.argv[1]) if len(sys.argv) > 1 else 5).items():
        thumb, desc = row["thumbnail"] * 1000, row["describe"] * 1000
        print(f"{name:10} thumbnail {thumb:7.0f} ms  describe {desc:7.0f} ms  ratio {row['ratio']:.2f}")
