"""Per-processor cost: time and peak memory per upload, the memory size to configure, and
what a million uploads cost.

Each processor runs in a fresh process that first imports its whole handler module (the
layer: Pillow, Powertools, boto3), so the peak is what the function holds, not only the
image work. Local time stands in for Lambda time: Lambda gives CPU in proportion to memory
(one full vCPU at 1,769 MB), so below that a function runs slower than here, above it no
faster for single-threaded Pillow work. S3 transfer time is not included.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import inputs, measure
from imgpipe.manifest import Manifest

# WebP is in because Pillow decodes it at about 15 bytes per pixel (the other formats: 3-4), so
# a large WebP, not a large JPEG, decides the memory a processor needs at the pixel cap.
INPUTS = (inputs.JPEG12, inputs.JPEG24, inputs.PNG12_ALPHA, inputs.WEBP12)
TYPICAL = inputs.JPEG12.name
CAP_MEGAPIXELS = 50.0  # Limits.max_pixels default: the largest upload a processor must survive

# Prices, us-east-1, as published by AWS in 2024-2025 (checked against the pricing pages then).
PRICES: dict[str, Any] = {
    "date": "2024-2025 (AWS public pricing pages, us-east-1)",
    "lambda_arm64_gb_s": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "eventbridge_custom_event": 1.00 / 1e6,
    "s3_put": 0.005 / 1000,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1000,  # GET, HEAD and other reads
    "sns_publish": 0.50 / 1e6,
    "sqs_request": 0.40 / 1e6,  # standard queue, per request (each 64 KB chunk of a payload)
    "sns_email": 2.00 / 100_000,
    # DynamoDB on-demand (the catalog): per write request unit (1 KB of the larger of the item
    # before and after the write) and per read request unit (4 KB, strongly consistent)
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "dynamodb_date": "on-demand prices in effect since 2024-11-01 (AWS DynamoDB pricing page, us-east-1)",
}

#: notify is not an image processor and is not timed here: it does a few small DynamoDB writes
#: per event. This is an *assumption* for the estimate, shown as such in the report.
NOTIFY_ASSUMED_S = 0.05
#: notify's invocations per upload: its queue hands it the events in batches (its manifest's
#: [batch]). A lone upload's event opens a batch, and the producers' events fill a second when
#: they come after its window (at most two, and one when they all fit in it); under load a
#: batch gathers several uploads' events. Priced at two: the lone upload's case.
NOTIFY_INVOCATIONS = 2

#: the typical upload's requests are counted, not assumed: tests/integration/test_request_counts.py
#: counts what the handlers send and holds :func:`requests_per_upload` to it, exactly.
#: The catalog item of one round as notify writes it (bytes, by DynamoDB's sizing rules, for a
#: 22-character key): after the upload event, each variant's record, the email claim and confirm.
CATALOG_ROUND_BYTES = 406
CATALOG_VARIANT_BYTES = 187
CATALOG_CLAIM_BYTES = 82
CATALOG_CONFIRM_BYTES = 118


def catalog_write_units(variants: Sequence[int]) -> int:
    """Write units of one round's catalog writes: the upload event, the producers' events (their
    ``variants`` records) in one write as one batch brings them (services/notify/notifier.py), the
    email's claim and confirm, each billed on the larger of the item's sizes before and after it."""
    sizes = [0, CATALOG_ROUND_BYTES, CATALOG_ROUND_BYTES + CATALOG_VARIANT_BYTES * sum(variants)]
    sizes += [sizes[-1] + CATALOG_CLAIM_BYTES, sizes[-1] + CATALOG_CLAIM_BYTES + CATALOG_CONFIRM_BYTES]
    return sum(max(1, math.ceil(max(a, b) / 1024)) for a, b in itertools.pairwise(sizes))


def requests_per_upload(variants: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """What each service sends for one upload whose producers make ``variants`` (by producer),
    every event delivered once: ``<client>.<Operation>`` calls, PutEvents entries and DynamoDB
    request units. From imgpipe/runtime.py and services/notify; checked by the request-count test."""
    out: dict[str, dict[str, int]] = {}
    for name, n in variants.items():
        out[name] = {
            "lambda.invocations": 1,
            # GET of the upload (its headers: key, size, etag, archive), HEAD of its last variant (skip evidence)
            "s3.HeadObject": 1,
            "s3.GetObject": 1,
            "s3.PutObject": n,
            # one "Variants Created" listing them all
            "events.PutEvents": 1,
            "events.entries": 1,
        }
    out["notify"] = {
        "lambda.invocations": NOTIFY_INVOCATIONS,
        # HEAD and a ranged GET of the upload (its facts); the producers' events are signed: no
        # request about their variants
        "s3.HeadObject": 1,
        "s3.GetObject": 1,
        # one conditional write for the upload's event, one for the producers' (one batch), then
        # the email's claim and confirm
        "dynamodb.UpdateItem": 1 + 1 + 2,
        "dynamodb.WRU": catalog_write_units(list(variants.values())),
        "sns.Publish": 1,
        # the round's completion event (docs/events.md)
        "events.PutEvents": 1,
        "events.entries": 1,
    }
    return out


#: the requests the handlers of convert, resize, thumbnail and notify sent for one 7-variant upload
#: before one event per producer (the budget test's table then: 6 + 8 + 5 + 21 calls): what the
#: target of 40% fewer is measured against
REQUESTS_BEFORE = 40
#: fewer AWS requests per upload: at most this share of :data:`REQUESTS_BEFORE`
REQUESTS_TARGET_RATIO = 0.6
#: invocations per upload with the default services, at most
INVOCATIONS_TARGET = 6
#: dollars per million uploads with the CPU share applied, at most
COST_TARGET_USD = 110.0


def calls(requests: Mapping[str, int]) -> int:
    """The API calls among one service's counters (``<client>.<Operation>``; not entries or
    invocations, which are lower-case, nor DynamoDB's request units, ``WRU`` / ``RRU``)."""
    return sum(v for k, v in requests.items() if (op := k.split(".")[1])[:1].isupper() and not op.isupper())


def queue_requests(events: int, invocations: int) -> dict[str, int]:
    """A batched service's input queue, per upload: EventBridge sends each event, and each batch
    is one receive and one batch delete (the event source's idle polling is a fixed cost)."""
    return {"sqs.SendMessage": events, "sqs.ReceiveMessage": invocations, "sqs.DeleteMessageBatch": invocations}


def request_target(variants: Mapping[str, int] | None = None) -> dict[str, Any]:
    """AWS requests per upload of the budget test's upload (convert, resize, thumbnail, notify),
    the handlers' own and notify's queue, against :data:`REQUESTS_BEFORE`."""
    requests = requests_per_upload(variants or {"convert": 2, "resize": 4, "thumbnail": 1})
    handlers = sum(calls(r) for r in requests.values())
    notify = requests["notify"]
    events = 1 + sum(1 for name in requests if name != "notify")  # the upload's, one per producer
    queue = sum(queue_requests(events, notify["lambda.invocations"]).values())
    total = handlers + queue
    return {
        "handlers": handlers,
        "queue": queue,
        "total": total,
        "before": REQUESTS_BEFORE,
        "ratio": round(total / REQUESTS_BEFORE, 3),
        "met": total <= REQUESTS_TARGET_RATIO * REQUESTS_BEFORE,
    }


def _av_bytes(value: Mapping[str, Any]) -> int:
    """Size of one DynamoDB attribute value (low-level ``{"S": ...}`` form), by DynamoDB's rules."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "B":
        return len(v)
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(_av_bytes({"N": x}) for x in v)
    if kind == "L":  # 3 bytes of overhead, 1 per element
        return 3 + sum(1 + _av_bytes(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _av_bytes(x) for k, x in v.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def dynamodb_item_bytes(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size as DynamoDB bills it: every attribute name plus its value (write units are
    per 1 KB of the larger of the item before and after a write, read units per 4 KB)."""
    return sum(len(name.encode()) + _av_bytes(value) for name, value in item.items())


#: the memory size at which a Lambda function has one full vCPU (AWS documentation)
FULL_VCPU_MB = 1769
#: Lambda's memory is configurable in 1 MB steps; these are the sizes people actually pick.
MEMORY_STEPS = (128, 256, 384, 512, 640, 768, 1024, 1280, 1536, 1769, 2048, 2560, 3008, 4096, 5120, 6144, 8192, 10240)
#: headroom over the measured peak: the runtime client, boto3's response buffers and the
#: variance between images of the same size.
HEADROOM_FACTOR = 1.3
HEADROOM_MIB = 64


def recommend_memory(peak_mib: float) -> int:
    need = peak_mib * HEADROOM_FACTOR + HEADROOM_MIB
    return next((s for s in MEMORY_STEPS if s >= need), MEMORY_STEPS[-1])


#: the memory sizes the curve prices: from the smallest an image processor is given to one full vCPU
CURVE_MB = (512, 640, 768, 1024, 1280, 1536, FULL_VCPU_MB)
#: time a function waits, not computing, per request it sends (S3, EventBridge, DynamoDB in the
#: same region: a small request's round trip) and per MB it moves to or from S3. An *assumption*,
#: shown as such: Lambda bills the wait at the function's memory, but no CPU share slows it.
WAIT_S_PER_REQUEST = 0.02
WAIT_S_PER_MB = 0.01
#: a larger size is worth its price while it costs at most this much more than the cheapest:
#: below a full vCPU the CPU-bound part costs the same at every size and runs 1769 / memory slower
CURVE_COST_TOLERANCE = 0.03


def billed_seconds(cpu_s: float, wait_s: float, memory_mb: int) -> float:
    """What Lambda bills for ``cpu_s`` of CPU-bound work and ``wait_s`` of waiting at
    ``memory_mb``: below 1,769 MB the function has memory / 1769 of a vCPU, so its CPU work
    takes 1769 / memory times as long (rounded up to the millisecond, as billed)."""
    return math.ceil((cpu_s * max(1.0, FULL_VCPU_MB / memory_mb) + wait_s) * 1000) / 1000


def memory_curve(cpu_s: float, wait_s: float, floor_mb: int) -> dict[str, Any]:
    """Cost and latency of one invocation at each size of :data:`CURVE_MB` the function fits
    (``floor_mb``: its need at the pixel cap), and the pick: the fastest size within
    :data:`CURVE_COST_TOLERANCE` of the cheapest. CPU-heavy services end at a full vCPU (the same
    cost, a third of the time at 512 MB); services that mostly wait, at their floor."""
    p = PRICES
    points = []
    for mb in [m for m in CURVE_MB if m >= floor_mb] or [floor_mb]:
        seconds = billed_seconds(cpu_s, wait_s, mb)
        usd = seconds * mb / 1024 * p["lambda_arm64_gb_s"] + p["lambda_request"]
        points.append({"memory_mb": mb, "billed_ms": round(seconds * 1000), "usd_per_million": round(usd * 1e6, 2)})
    cheapest = min(pt["usd_per_million"] for pt in points)
    fair = [pt for pt in points if pt["usd_per_million"] <= cheapest * (1 + CURVE_COST_TOLERANCE)]
    chosen = max(fair, key=lambda pt: pt["memory_mb"])
    return {"points": points, "chosen_mb": chosen["memory_mb"], "floor_mb": floor_mb}


def wait_seconds(requests: Mapping[str, int], megabytes: float) -> float:
    return calls(requests) * WAIT_S_PER_REQUEST + megabytes * WAIT_S_PER_MB


def measure_processors(
    manifests: Sequence[Manifest], repeats: int, log: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    # what a default deployment runs (a service off by default is not part of its cost)
    producers = [m for m in manifests if m.produces_variants and m.enabled_by_default]
    for spec in INPUTS:
        inputs.ensure(spec)
    runs = measure.processor_runs(producers, INPUTS, repeats, log, "per-processor cost")
    out: dict[str, dict[str, Any]] = {}
    for m in producers:
        per_input = {}
        for spec in INPUTS:
            s = measure.summarise(runs[(m.name, spec.name)])
            if "error" not in s:
                # the function must hold the import peak and the work peak
                s["function_peak_mib"] = max(s["peak_mib"], s["setup_peak_mib"])
                s["megapixels"] = round(spec.megapixels, 1)
                s["input_bytes"] = inputs.path_for(spec).stat().st_size  # read from S3, as the outputs are written
            per_input[spec.name] = s
        out[m.name] = {"manifest_memory_mb": m.memory_mb, "inputs": per_input}
    return out


def _at_cap(s: Mapping[str, Any]) -> float:
    """Peak extrapolated to the pixel cap: the work's memory grows with the pixels decoded,
    the interpreter and layer do not."""
    base = s["function_peak_mib"] - s["op_mib"]
    return base + s["op_mib"] * CAP_MEGAPIXELS / s["megapixels"]


def sizing(measured: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    out = {}
    for name, entry in measured.items():
        ok = {k: v for k, v in entry["inputs"].items() if "error" not in v}
        if not ok:
            out[name] = {"error": "no successful measurement"}
            continue
        peak = max(v["function_peak_mib"] for v in ok.values())
        cap = max(_at_cap(v) for v in ok.values())
        out[name] = {
            "measured_peak_mib": round(peak, 1),
            "recommended_memory_mb": recommend_memory(peak),
            "peak_at_cap_mib_estimate": round(cap, 1),
            "recommended_memory_mb_at_cap": recommend_memory(cap),
            "manifest_memory_mb": entry["manifest_memory_mb"],
        }
    return out


def _s3_usd(counts: Mapping[str, int]) -> tuple[float, int, int]:
    p = PRICES
    reads = counts.get("s3.HeadObject", 0) + counts.get("s3.GetObject", 0)
    puts = counts.get("s3.PutObject", 0)
    return 1e6 * (reads * p["s3_get"] + puts * p["s3_put"]), reads, puts


def describe_index_requests(distance: int) -> dict[str, int]:
    """describe's near-duplicate index, per upload (services/describe/adapters.py): one Query and
    one small UpdateItem per band, ``distance + 1`` bands, each wave sent at once. A Query reads at
    least half a unit (eventually consistent); an entry is well under 1 KB, so one write unit: the
    least any banded index can bill (services/describe/duplicates.py). What the waves save is
    round trips: 2 instead of ``2 * (distance + 1)``."""
    bands = distance + 1
    return {
        "dynamodb.Query": bands,
        "dynamodb.RRU_half": bands,
        "dynamodb.UpdateItem": bands,
        "dynamodb.WRU": bands,
        "round_trips": 2,
    }


def _describe_index_lines(measured: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "describe" not in measured:
        return []
    from imgpipe.registry import discover, parse_settings

    [describe] = [m for m in discover(services="all") if m.name == "describe"]
    settings = parse_settings(describe)
    if not settings.find_duplicates:
        return []
    r = describe_index_requests(settings.duplicate_distance)
    p = PRICES
    usd = 1e6 * (r["dynamodb.WRU"] * p["dynamodb_write_unit"] + r["dynamodb.RRU_half"] / 2 * p["dynamodb_read_unit"])
    note = (
        f"near-duplicate index: {r['dynamodb.Query']} queries and {r['dynamodb.UpdateItem']} writes, one per band,"
        f" in {r['round_trips']} round trips"
    )
    return [{"item": "DynamoDB describe", "usd": usd, "note": note}]


def deployed_memory() -> dict[str, int]:
    """Each service's memory as its manifest deploys it."""
    from imgpipe.registry import discover

    return {m.name: m.memory_mb for m in discover(services="all")}


def cost_per_million(
    measured: Mapping[str, Mapping[str, Any]], sizes: Mapping[str, Any], deployed: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Dollars per million uploads of the typical photo, by line item. Each processor is priced at
    its curve's pick, or at ``deployed`` memory (its manifest's) where that is given and differs: a
    manifest may keep more than the curve picks for an input the bench does not hold."""
    p = PRICES
    lines: list[dict[str, Any]] = []
    extra_scaled = 0.0
    variants = {
        name: len(entry["inputs"][TYPICAL]["outputs"])
        for name, entry in measured.items()
        if "error" not in entry["inputs"].get(TYPICAL, {"error": "not measured"})
    }
    requests = requests_per_upload(variants)
    curves: dict[str, Any] = {}
    for name, entry in measured.items():
        typical = entry["inputs"].get(TYPICAL, {})
        if "error" in typical or name not in sizes or "error" in sizes[name]:
            lines.append({"item": f"Lambda {name}", "usd": None, "note": "not measured"})
            continue
        # the size it must have to survive the pixel cap, never under the curve's first size
        z = sizes[name]
        at_cap = z.get("memory_mb_at_cap_measured") or z.get("recommended_memory_mb_at_cap", z["recommended_memory_mb"])
        floor_mb = max(CURVE_MB[0], at_cap)
        moved = typical.get("input_bytes", 0) + sum(
            o.get("bytes", 0) for o in typical["outputs"] if isinstance(o, Mapping)
        )
        moved_mb = moved / 1e6
        wait_s = wait_seconds(requests[name], moved_mb)
        curve = memory_curve(typical["cpu_seconds"], wait_s, floor_mb)
        curves[name] = {**curve, "cpu_ms": round(typical["cpu_seconds"] * 1000), "wait_ms": round(wait_s * 1000)}
        memory_mb = (deployed or {}).get(name, curve["chosen_mb"])
        curve["priced_mb"] = memory_mb
        why = (
            "from its curve"
            if memory_mb == curve["chosen_mb"]
            else f"its manifest's; its curve picks {curve['chosen_mb']}"
        )
        mem_gb = memory_mb / 1024
        seconds = billed_seconds(typical["cpu_seconds"], wait_s, memory_mb)
        usd = 1e6 * (seconds * mem_gb * p["lambda_arm64_gb_s"] + p["lambda_request"])
        # what the table used to say: CPU time at a full core's speed, no wait
        full_core_s = math.ceil(typical["cpu_seconds"] * 1000) / 1000
        extra_scaled += usd - 1e6 * (full_core_s * mem_gb * p["lambda_arm64_gb_s"] + p["lambda_request"])
        lines.append(
            {
                "item": f"Lambda {name}",
                "usd": usd,
                "note": f"{typical['cpu_seconds'] * 1000:.0f} ms CPU at {memory_mb / FULL_VCPU_MB:.2f} vCPU"
                f" ({memory_mb} MB, {why}) + {wait_s * 1000:.0f} ms waiting (assumed) ="
                f" {seconds * 1000:.0f} ms billed, 1 request",
            }
        )
        s3_usd, reads, puts = _s3_usd(requests[name])
        lines.append({"item": f"S3 requests {name}", "usd": s3_usd, "note": f"{reads} GET/HEAD, {puts} PUT"})
    variants_total = sum(variants.values())
    notify = requests["notify"]
    notify_events = 1 + len(variants)  # the upload itself and each producer's one event
    notify_invocations = notify["lambda.invocations"]
    sqs_requests = sum(queue_requests(notify_events, notify_invocations).values())
    entries = sum(r.get("events.entries", 0) for r in requests.values())
    notify_s3_usd, notify_reads, _ = _s3_usd(notify)
    lines += [
        {"item": "S3 upload PUT", "usd": 1e6 * p["s3_put"], "note": "the upload itself"},
        {
            "item": "EventBridge",
            "usd": 1e6 * entries * p["eventbridge_custom_event"],
            "note": f"{len(variants)} Variants Created events ({variants_total} variants) and 1 completion event, "
            "billed per entry "
            f"({sum(r.get('events.PutEvents', 0) for r in requests.values())} PutEvents calls); "
            "S3 events to the default bus are free",
        },
        {
            "item": "Lambda notify",
            "usd": 1e6
            * (
                notify_events * NOTIFY_ASSUMED_S * 256 / 1024 * p["lambda_arm64_gb_s"]
                + notify_invocations * p["lambda_request"]
            ),
            "note": f"{notify_invocations} invocations (batches) of {notify_events} events x"
            f" {NOTIFY_ASSUMED_S * 1000:.0f} ms (assumed) x 256 MB",
        },
        {
            "item": "SQS notify",
            "usd": 1e6 * sqs_requests * p["sqs_request"],
            "note": f"its input queue: {notify_events} sends, {notify_invocations} receives and"
            f" {notify_invocations} batch deletes (idle polling not included)",
        },
        {
            "item": "S3 requests notify",
            "usd": notify_s3_usd,
            "note": f"{notify_reads} GET/HEAD: the upload's facts (events are signed: none per variant)",
        },
        {
            "item": "DynamoDB notify",
            "usd": 1e6
            * (
                notify.get("dynamodb.WRU", 0) * p["dynamodb_write_unit"]
                + notify.get("dynamodb.RRU", 0) * p["dynamodb_read_unit"]
            ),
            "note": f"{notify['dynamodb.UpdateItem']} writes, {notify.get('dynamodb.WRU', 0)} write units "
            f"(on-demand, {p['dynamodb_date']})",
        },
        *_describe_index_lines(measured),
        {"item": "SNS publish", "usd": 1e6 * p["sns_publish"], "note": "one message per upload"},
        {"item": "SNS email delivery", "usd": 1e6 * p["sns_email"], "note": "one email per upload"},
    ]
    known = [ln["usd"] for ln in lines if ln["usd"] is not None]
    total = sum(known)
    without_email = total - 1e6 * p["sns_email"]
    # what no design avoids: the upload's PUT, one PUT per variant, the email and its publish
    floor = 1e6 * (p["s3_put"] * (1 + variants_total) + p["sns_email"] + p["sns_publish"])
    for ln in lines:
        if ln["usd"] is not None:
            ln["usd"] = round(ln["usd"], 2)
    return {
        "basis": f"{TYPICAL} ({inputs.JPEG12.label}), memory per processor from its cost curve",
        "prices": p,
        "requests_per_upload": requests,
        "invocations_per_upload": sum(r.get("lambda.invocations", 0) for r in requests.values()),
        "invocations_by_service": {n: r.get("lambda.invocations", 0) for n, r in requests.items()},
        "requests_target": request_target(),
        "lines": lines,
        # every processor's time at its memory's CPU share, as Lambda bills it
        "total_usd": round(total, 2),
        "total_without_email_usd": round(without_email, 2),
        "total_cpu_scaled_usd": round(total, 2),
        # the same priced the old way (CPU time at a full core, no wait), to compare with earlier runs
        "total_full_core_usd": round(total - extra_scaled, 2),
        "floor_usd": round(floor, 2),
        "memory_curves": curves,
        "complete": len(known) == len(lines),
        "not_included": "CloudWatch Logs and metrics, data transfer, S3 and DynamoDB storage",
    }


def run(
    manifests: Sequence[Manifest], repeats: int, log: Callable[[str], None], cap: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``cap``: the same run's pixel-cap part, if it ran: its measured memory at the cap replaces
    this part's extrapolation as the floor of each processor's curve."""
    measured = measure_processors(manifests, repeats, log)
    sizes = sizing(measured)
    for name, entry in (cap or {}).get("processors", {}).items():
        if name in sizes and "error" not in sizes[name] and entry.get("derived_memory_mb"):
            sizes[name]["memory_mb_at_cap_measured"] = entry["derived_memory_mb"]
    return {
        "processors": measured,
        "sizing": sizes,
        "cost": cost_per_million(measured, sizes, deployed_memory()),
        "repeats": repeats,
    }


def worst_case(manifests: Sequence[Manifest]) -> dict[str, Any]:
    """What one upload can cost when every invocation fails at its timeout and Lambda retries it
    ``retry_attempts`` times (each ``imgpipe dlq redrive`` repeats it once more), and the most any
    burst can spend per hour, bounded by the reserved concurrency. From the manifests alone."""
    producers = [m for m in manifests if m.produces_variants]
    per_service: dict[str, dict[str, float]] = {}
    for m in manifests:
        events = 1.0 if m.upload_triggers() else 0.0
        if m.listens_to_pipeline:
            # one "Variants Created" (or "Image Rejected") per producer, however many variants
            events += len(producers)
        gb_s = events * (m.retry_attempts + 1) * m.timeout_s * m.memory_mb / 1024
        per_service[m.name] = {"events": events, "gb_s": round(gb_s, 1)}
    total = sum(s["gb_s"] for s in per_service.values())
    reserved = [m for m in manifests if m.reserved_concurrency]
    ceiling_gb = sum(m.reserved_concurrency * m.memory_mb / 1024 for m in reserved)
    return {
        "per_service": per_service,
        "gb_s_per_upload": round(total, 1),
        "usd_per_upload": round(total * PRICES["lambda_arm64_gb_s"], 4),
        # every reserved function busy for an hour: what a flood of uploads can spend at most
        "max_usd_per_hour": round(ceiling_gb * 3600 * PRICES["lambda_arm64_gb_s"], 2),
        "unbounded": sorted(m.name for m in manifests if not m.reserved_concurrency),
        "reserved_gb": ceiling_gb,
    }


def worst_case_table(manifests: Sequence[Manifest]) -> str:
    """The worst case per upload as docs/reliability.md shows it (``python -m bench.cost --worst-case``)."""
    result = worst_case(manifests)
    out = ["| service | events per upload | GB-s |", "|---|---:|---:|"]
    for m in manifests:
        s = result["per_service"][m.name]
        if not s["events"]:
            continue
        what = " (the upload and one per producer)" if m.listens_to_pipeline and m.upload_triggers() else ""
        out.append(
            f"| {m.name} ({m.memory_mb} MB, {m.timeout_s} s, {m.retry_attempts + 1} attempts) "
            f"| {s['events']:g}{what} | {s['gb_s']:,g} |"
        )
    total = f"{result['gb_s_per_upload']:,g} GB-s = ${result['usd_per_upload']:.4f}"
    out.append(f"| **total** (a default deployment) | | **{total}** |")
    out.append("")
    out.append(
        f"Each `imgpipe dlq redrive` can repeat it once. With every reserved function busy, the stack spends at most\n"
        f"**${result['max_usd_per_hour']:.2f} per hour** on Lambda ({result['reserved_gb']:g} GB running at once, a "
        "default deployment), whatever arrives."
    )
    return "\n".join(out)


LATEST = Path(__file__).parent / "results" / "latest.json"


def from_latest(path: Path = LATEST) -> dict[str, Any]:
    """The cost per million uploads priced again from the last bench run's measurements (time,
    memory, variants per processor) with today's request counts and prices."""
    measured = json.loads(path.read_text())["cost"]
    return cost_per_million(measured["processors"], measured["sizing"], deployed_memory())


def main() -> None:
    if sys.argv[1:] == ["--worst-case"]:
        from imgpipe.registry import discover

        print(worst_case_table(discover(services=None)))
        return
    c = from_latest()
    print(f"Cost of one million uploads: {c['basis']}")
    for ln in c["lines"]:
        usd = "n/a" if ln["usd"] is None else f"${ln['usd']:.2f}"
        print(f"  {ln['item']:<24} {usd:>8}  {ln['note']}")
    print(f"  {'total':<24} ${c['total_usd']:>7.2f}  (${c['total_without_email_usd']:.2f} without the email delivery)")


if __name__ == "__main__":
    main()
