"""On-demand transforms: render latency of a 12 MP phone JPEG to a 640 px WebP, warm, in one run,
side by side: the transform's pure render, the whole service answer (signature, catalog and
render, on in-memory ports), and pyvips' ``thumbnail`` + ``webpsave`` on the same bytes as the
reference; then the cost of a million renders with Lambda's CPU share applied.

    python -m bench.transforms [--repeats 20]

Through the local front door (HTTP, moto) is not measured here. Latencies are local wall-clock:
ratios between the rows are the finding (the rows are interleaved), absolute values depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import inputs
from bench.cost import PRICES, billed_seconds
from imgpipe.catalog import COMPLETED, Round
from imgpipe.ports import ObjectInfo
from imgpipe.transforms import Transform, url_path
from services.transform.logic import render
from services.transform.service import TransformService
from services.transform.settings import Settings

TRANSFORM = Transform(640, None, "inside", "webp")
KEY, ETAG, SECRET = "users/bench/AAAAAAAAAAAAAAAAAAAAAA/photo.jpg", "etag", b"b" * 48
#: the function's size (services/transform/manifest.toml): 1024 MB is 0.58 of a vCPU
MEMORY_MB = 1024
#: per uncached render, besides the work: S3 HEAD + GET, one strongly consistent catalog read
WAIT_S = 0.02 * 3


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(p99 * 1000, 1), "n": len(ordered)}


def _interleaved(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """Each function once per round, round after round: a change in the machine's load falls on
    every row alike, so the ratios hold even when the absolute times move."""
    for fn in fns.values():
        fn()  # warm: plugins loaded, code paths compiled
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - start)
    return out


class _Ports:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def head(self, key: str) -> ObjectInfo | None:
        return ObjectInfo(key, len(self.data), ETAG)

    def get(self, key: str, etag: str) -> bytes:
        return self.data

    def load(self, key: str, etag: str) -> Round | None:
        return Round("uploads", key, etag, status=COMPLETED)

    def exists(self, key: str) -> bool:
        return False

    def put(self, *args: Any) -> None:
        raise AssertionError("a 640 px WebP is returned inline")

    def link(self, key: str, expires_s: int) -> str:
        raise AssertionError("not stored")


def run(repeats: int) -> dict[str, Any]:
    import pyvips

    data = inputs.ensure(inputs.JPEG12).read_bytes()
    settings = Settings()
    ports = _Ports(data)
    service = TransformService(settings, ports, ports, ports, lambda: (SECRET,))
    path = url_path(SECRET, KEY, ETAG, TRANSFORM)
    assert service.answer("GET", path, None).status == 200

    def vips() -> bytes:
        return pyvips.Image.thumbnail_buffer(data, 640).webpsave_buffer(Q=settings.webp_quality)

    rows = _interleaved(
        {
            "render (imgpipe.imaging, in-process)": lambda: render(data, TRANSFORM, settings),
            "service answer (signature + catalog + render)": lambda: service.answer("GET", path, None),
            "pyvips thumbnail + webpsave (reference)": vips,
        },
        repeats,
    )
    table = {name: _percentiles(samples) for name, samples in rows.items()}
    reference = table["pyvips thumbnail + webpsave (reference)"]["p50_ms"]
    for row in table.values():
        row["x_pyvips_p50"] = round(row["p50_ms"] / reference, 2)
    cpu_s = statistics.median(rows["service answer (signature + catalog + render)"])
    seconds = billed_seconds(cpu_s, WAIT_S, MEMORY_MB)
    lambda_usd = seconds * MEMORY_MB / 1024 * PRICES["lambda_arm64_gb_s"] + PRICES["lambda_request"]
    storage_usd = PRICES["s3_get"] * 2 + PRICES["dynamodb_read_unit"]
    return {
        "input": inputs.JPEG12.label,
        "transform": TRANSFORM.spec,
        "latency": table,
        "cost": {
            "memory_mb": MEMORY_MB,
            "cpu_share": round(min(1.0, MEMORY_MB / 1769), 2),
            "billed_ms": round(seconds * 1000),
            "usd_per_million_renders": round((lambda_usd + storage_usd) * 1e6, 2),
            "prices": PRICES["date"],
            "not_included": "CloudFront requests and transfer (cache hits cost no render)",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    print(json.dumps(run(parser.parse_args().repeats), indent=2))


if __name__ == "__main__":
    main()
