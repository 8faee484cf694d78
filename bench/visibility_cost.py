"""What deciding visibility per object costs, side by side with a grant listing producers' prefixes.

Each public image carries one ``imgpipe-visibility`` tag (imgpipe/outputs.py). S3 bills object
tags per tag-month; the prefix grant costs nothing per object. With moderation, releasing a
round was one ``DeleteObjectTagging`` per public output; it is now a ``GetObjectTagging`` and a
``PutObjectTagging`` (the visibility tag must stay). The outputs per upload are the last bench
run's (``bench/results/latest.json``, the typical upload, the default services). Run
``python -m bench.visibility_cost`` to print the figures in docs/decisions.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.cost import PRICES, TYPICAL
from imgpipe.outputs import PUBLIC_ROLES
from imgpipe.registry import DEFAULT_ROOT, discover

LATEST = Path(__file__).parent / "results" / "latest.json"

#: S3 Standard, us-east-1 (AWS public pricing page, 2024-2025)
TAG_MONTH = 0.01 / 10_000  # per object tag per month
STORAGE_GB_MONTH = 0.023  # first 50 TB


def public_outputs(path: Path = LATEST) -> tuple[int, int]:
    """(count, bytes) of the public images one typical upload gets from the default services."""
    measured = json.loads(path.read_text())["cost"]["processors"]
    public = {
        m.name
        for m in discover(DEFAULT_ROOT, services=None)
        if m.outputs is not None and m.outputs.role in PUBLIC_ROLES
    }
    outputs = [o for name in sorted(public & set(measured)) for o in measured[name]["inputs"][TYPICAL]["outputs"]]
    return len(outputs), sum(int(o["bytes"]) for o in outputs)


def per_million(count: int, size: int) -> dict[str, Any]:
    """Dollars per million uploads kept one month, and with moderation, per million released."""
    storage = size * 1e6 / 1e9 * STORAGE_GB_MONTH
    return {
        "outputs_per_upload": count,
        "variant_storage_month_usd": storage,
        "tags_month": {"prefix grant": 0.0, "per-object tag": count * 1e6 * TAG_MONTH},
        "release": {
            "prefix grant": count * 1e6 * PRICES["s3_put"],
            "per-object tag": count * 1e6 * (PRICES["s3_get"] + PRICES["s3_put"]),
        },
    }


def main() -> None:
    c = per_million(*public_outputs())
    tags, release, storage = c["tags_month"], c["release"], c["variant_storage_month_usd"]
    print(f"Per million uploads, default services, {c['outputs_per_upload']} public images each:")
    print(f"  variants stored, per month:        ${storage:8.2f}")
    for design in ("prefix grant", "per-object tag"):
        share = tags[design] / storage
        print(f"  {design:<15} tags per month: ${tags[design]:8.2f}  ({share:.0%} of the variants' storage)")
    for design in ("prefix grant", "per-object tag"):
        print(f"  {design:<15} release (moderation on), once: ${release[design]:.2f}")
    print(f"  ratio release tag/prefix: {release['per-object tag'] / release['prefix grant']:.2f}")


if __name__ == "__main__":
    main()
