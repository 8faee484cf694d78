"""Time and cost of a backfill run (docs/backfill.md), from the per-upload cost model.

The processing itself costs what a live upload costs without its email (bench/cost.py's lines
from ``bench/results/latest.json``); the backfill adds the Step Functions run, the item Lambda
and the listing. Run ``python -m bench.backfill_cost`` to print the table in docs/backfill.md.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench import cost
from bench.cost import NOTIFY_ASSUMED_S, PRICES

LATEST = Path(__file__).parent / "results" / "latest.json"

# Step Functions, us-east-1, as published by AWS in 2024-2025. Standard: per state transition
# (the Distributed Map counts one per child execution it starts); Express children: per request
# and per GB-s of duration, billed in 64 MB steps (a batch child stays at the minimum).
SFN_PRICES = {
    "standard_transition": 0.025 / 1000,
    "express_request": 1.00 / 1e6,
    "express_gb_s": 0.00001667,
    "express_memory_gb": 64 / 1024,
    "s3_inventory_per_million_objects": 0.0025,
}
#: the CLI's defaults (imgpipe_tools/backfill): batches of up to 100, paced so that the run as a
#: whole delivers ``rate`` objects per second; a batch child and its item Lambda last as long
BATCH_ITEMS_MAX = 100
BATCH_SECONDS_MAX = 30
MAX_CONCURRENCY = 10
ITEM_LAMBDA_GB = 256 / 1024
LIST_PAGE = 1000  # ListObjectsV2 returns at most 1,000 keys per request


def _per_upload(lines: list[dict[str, Any]]) -> float:
    """Dollars per upload for the processing a backfill triggers: everything but the upload's
    own PUT and the email (no --notify)."""
    excluded = ("S3 upload PUT", "SNS publish", "SNS email delivery")
    return sum(ln["usd"] for ln in lines if ln["item"] not in excluded) / 1e6


def _reads(counts: dict[str, int]) -> int:
    return counts.get("s3.HeadObject", 0) + counts.get("s3.GetObject", 0)


def _lambda_seconds(model: dict[str, Any]) -> tuple[float, float, float]:
    """(GB-s at local speed, GB-s billed, seconds billed) per upload, producers + notify, from the
    cost model's memory curves: each producer's CPU and wait at the memory its curve picked."""
    gb_s = billed_gb_s = billed_s = 0.0
    for curve in model["memory_curves"].values():
        mb, cpu_s, wait_s = curve.get("priced_mb", curve["chosen_mb"]), curve["cpu_ms"] / 1000, curve["wait_ms"] / 1000
        billed = cost.billed_seconds(cpu_s, wait_s, mb)
        gb_s += (cpu_s + wait_s) * mb / 1024
        billed_gb_s += billed * mb / 1024
        billed_s += billed
    notify = _notify_events(model) * NOTIFY_ASSUMED_S
    return gb_s + notify * 0.25, billed_gb_s + notify * 0.25, billed_s + notify


def _producers(model: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {name: r for name, r in model["requests_per_upload"].items() if name != "notify"}


def _notify_events(model: dict[str, Any]) -> int:
    """The upload's event and one "Variants Created" per producer."""
    return 1 + len(_producers(model))


def estimate(
    objects: int, rate: float, model: dict[str, Any], max_concurrency: int = MAX_CONCURRENCY
) -> dict[str, Any]:
    """One run over ``objects`` at ``rate`` objects/s, priced from ``model`` (``bench.cost``'s
    cost per million uploads): the first (everything processed) and a repeat (everything current:
    the processors skip)."""
    p, s = PRICES, SFN_PRICES
    lines = model["lines"]
    per_batch_rate = rate / max_concurrency
    batch_items = max(1, min(BATCH_ITEMS_MAX, int(per_batch_rate * BATCH_SECONDS_MAX)))
    batches = math.ceil(objects / batch_items)
    batch_s = batch_items / per_batch_rate
    orchestration = {
        "Step Functions transitions": batches * s["standard_transition"],
        "Express child executions": batches
        * (s["express_request"] + batch_s * s["express_memory_gb"] * s["express_gb_s"]),
        "item Lambda": batches * (batch_s * ITEM_LAMBDA_GB * p["lambda_arm64_gb_s"] + p["lambda_request"]),
        "S3 LIST (listing)": math.ceil(objects / LIST_PAGE) * p["s3_put"],
        # a run without --notify: one event for notify, one for all the producers (their rules
        # take them), and one consistent read of the round that says notify recorded the upload
        "backfill events (PutEvents)": objects * 2 * p["eventbridge_custom_event"],
        "catalog checks (GetItem)": objects * p["dynamodb_read_unit"],
    }
    producers = _producers(model)
    notify = model["requests_per_upload"]["notify"]
    variants = sum(r.get("s3.PutObject", 0) for r in producers.values())
    producer_reads = sum(_reads(r) for r in producers.values())
    events = _notify_events(model)
    gb_s, billed_gb_s, billed_s = _lambda_seconds(model)
    # An idempotent skip makes the variants in memory to find them written (docs/decisions.md "Skip
    # evidence"): the producers' Lambda time and their reads, no PUT; each producer's event put
    # again; notify's invocations and reads and, per event, a failed conditional write on the
    # round's item.
    producers_lambda = sum(ln["usd"] for ln in lines if ln["item"] in {f"Lambda {n}" for n in producers})
    item_units = math.ceil(
        (
            cost.CATALOG_ROUND_BYTES
            + variants * cost.CATALOG_VARIANT_BYTES
            + cost.CATALOG_CLAIM_BYTES
            + cost.CATALOG_CONFIRM_BYTES
        )
        / 1024
    )
    skip_per_object = (
        producers_lambda / 1e6
        + producer_reads * p["s3_get"]
        + len(producers) * p["eventbridge_custom_event"]
        + events * NOTIFY_ASSUMED_S * 256 / 1024 * p["lambda_arm64_gb_s"]
        + notify["lambda.invocations"] * p["lambda_request"]
        + _reads(notify) * p["s3_get"]
        + events * item_units * p["dynamodb_write_unit"]
    )
    return {
        "objects": objects,
        "rate": rate,
        "hours": round(objects / rate / 3600, 1),
        "concurrency_needed": math.ceil(rate * billed_s),
        "state_transitions": batches + 6,
        "item_lambda_gb_s": round(batches * batch_s * ITEM_LAMBDA_GB),
        "processing_gb_s": round(objects * gb_s),
        "processing_gb_s_billed": round(objects * billed_gb_s),
        "s3_list": math.ceil(objects / LIST_PAGE),
        "s3_get_head": objects * (producer_reads + _reads(notify)),
        "s3_put": objects * variants,
        "orchestration": {k: round(v, 2) for k, v in orchestration.items()},
        "orchestration_usd": round(sum(orchestration.values()), 2),
        "inventory_usd": round(objects / 1e6 * s["s3_inventory_per_million_objects"], 2),
        "processing_usd": round(objects * _per_upload(lines), 2),
        "repeat_processing_usd": round(objects * skip_per_object, 2),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table docs/backfill.md shows."""
    out = [
        "| objects | rate (/s) | time | concurrency needed | state transitions | item Lambda GB-s "
        "| processing GB-s (billed) | S3 LIST / GET+HEAD / PUT | orchestration | processing | repeat run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        hours = r["hours"]
        time = f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
        out.append(
            f"| {r['objects']:,} | {r['rate']:g} | {time} | {r['concurrency_needed']:,} | {r['state_transitions']:,} "
            f"| {r['item_lambda_gb_s']:,} | {r['processing_gb_s']:,} ({r['processing_gb_s_billed']:,}) "
            f"| {r['s3_list']:,} / {r['s3_get_head']:,} / {r['s3_put']:,} "
            f"| ${r['orchestration_usd']:,.2f} | ${r['processing_usd']:,.2f} | ${r['repeat_processing_usd']:,.2f} |"
        )
    return "\n".join(out)


def rows(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs docs/backfill.md shows."""
    return [estimate(objects, rate, model) for objects in (1_000_000, 100_000_000) for rate in (50, 500)]


def main() -> None:
    print(table(rows(cost.from_latest(LATEST))))


if __name__ == "__main__":
    main()
