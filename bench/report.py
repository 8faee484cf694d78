"""Turns the bench's JSON into the markdown table, the console summary and the chart."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

OP_LABELS = {"processor": "imgpipe", "naive": "naive", "floor": "floor (decode)", "pyvips": "pyvips"}


def _verdict(met: bool | None, floor_meets_it: bool | None = None) -> str:
    if met is None:
        return "not measured"
    if met:
        return "met"
    return "MISSED (the decode floor misses it too)" if floor_meets_it is False else "MISSED"


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def check_lines(report: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(what, value, limit, verdict, best reachable) for every target across the benches."""
    lines = []
    for c in report.get("imaging", {}).get("checks", []):
        op = "<=" if c["at_most"] else ">="
        verdict = _verdict(c["met"], c.get("floor_meets_it"))
        lines.append((c["check"], _fmt(c["value"], 3), f"{op} {c['limit']}", verdict, _fmt(c.get("bound"), 3)))
    cold = report.get("coldstart", {})
    for name, h in cold.get("handlers", {}).items():
        if "ratio_to_boto3" in h:
            ms = f"{h['with_boto3_cpu_ms']:.0f} / {cold['boto3_cpu_ms']:.0f} ms CPU"
            value = f"{h['ratio_to_boto3']:.2f}x boto3 ({ms})"
            limit = f"<= {cold['target_ratio']}x, {cold['target_ms']:.0f} ms"
        else:
            value = f"{h['import_cpu_ms']:.0f} ms CPU, {h['import_ms']:.0f} ms wall" if "import_ms" in h else ""
            limit = f"<= {cold['target_ms']:.0f} ms"
        lines.append((f"cold import {name}", h.get("error") or value, limit, _verdict(h.get("met")), "-"))
    pkg = report.get("package", {})
    if pkg:
        value = pkg.get("error") or f"{pkg['unzipped_bytes'] / 1e6:.1f} MB"
        lines.append(("layer unzipped", value, "<= 262 MB (250 MiB)", _verdict(pkg.get("met")), "-"))
        if "target_bytes" in pkg:
            limit = f"< {pkg['target_bytes'] / 1e6:.0f} MB (with libvips)"
            lines.append(("layer unzipped (with libvips)", value, limit, _verdict(pkg.get("target_met")), "-"))
    lines += _cost_lines(report.get("cost", {}).get("cost", {}))
    lines += _cap_lines(report.get("cap", {}))
    lines += _describe_lines(report.get("describe", {}))
    lines += _convert_lines(report.get("convert", {}))
    lines += _throughput_lines(report.get("throughput", {}))
    return lines


def _cost_lines(c: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Invocations, requests and dollars per upload, against their targets (bench/cost.py)."""
    from bench import cost

    if "invocations_per_upload" not in c:
        return []
    n = c["invocations_per_upload"]
    by = ", ".join(f"{k} {v}" for k, v in c["invocations_by_service"].items())
    lines = [
        (
            "invocations per upload (default services)",
            f"{n} ({by})",
            f"<= {cost.INVOCATIONS_TARGET}",
            _verdict(n <= cost.INVOCATIONS_TARGET),
            "-",
        )
    ]
    r = c["requests_target"]
    lines.append(
        (
            "AWS requests per upload (convert, resize, thumbnail, notify)",
            f"{r['total']} = {r['handlers']} by the handlers + {r['queue']} on notify's queue; {r['ratio']:.2f}x the"
            f" {r['before']} before",
            f"<= {cost.REQUESTS_TARGET_RATIO}x",
            _verdict(r["met"]),
            "-",
        )
    )
    lines.append(
        (
            "cost per million uploads, CPU share applied",
            f"${c['total_usd']:.2f}",
            f"<= ${cost.COST_TARGET_USD:.0f}",
            _verdict(c["total_usd"] <= cost.COST_TARGET_USD),
            f"${c['floor_usd']:.2f}",
        )
    )
    return lines


def _convert_lines(conv: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    lines = []
    t = conv.get("targets", {})
    for name, v in conv.get("verdicts", {}).items():
        ssim = ">=" if v["ssim_not_lower"] else "<"
        value = f"{v['cpu_ratio']:.2f}x CPU, {v['bytes_ratio']:.3f}x bytes, SSIM {ssim} before"
        limit = f"<= {t['cpu_ratio']}x CPU, <= {t['bytes_ratio']}x bytes, SSIM >="
        lines.append((f"convert {name} vs before", value, limit, _verdict(v["met"]), "-"))
    return lines


def _config_label(c: Mapping[str, Any]) -> str:
    webp = f"m{c['webp_method']} q{c.get('webp_quality', '-')}"
    avif = f"s{c['avif_speed']} q{c.get('avif_quality', '-')}"
    return f"{c['jpeg_full_scale']} / {webp} / {avif} / q{c.get('jpeg_quality', '-')}"


def _convert_section(conv: Mapping[str, Any]) -> list[str]:
    out = ["## convert: encoders and settings", ""]
    out.append(
        "convert's whole `process` per upload, the configuration it shipped with (*before*: Pillow decodes a"
        " JPEG wanted at over half its size, WebP method 4 q80, AVIF speed 8 q60, JPEG q85) against"
        f" today's (*now*), interleaved in one run, median of {conv['repeats']}. CPU of all threads; bytes of all"
        " outputs; SSIM of each output against a full-decode Lanczos reference (bench/quality.py)."
    )
    out.append("")
    rows = []
    for name, by_config in conv["per_upload"].items():
        for config, r in by_config.items():
            ssim = ", ".join(f"{k} {v}" for k, v in r["ssim_by_output"].items())
            rows.append([name, config, _config_label(r["config"]), f"{r['cpu_ms']:.0f}", f"{r['kib']:.1f}", ssim])
    out += _table(
        [
            "input",
            "config",
            "JPEG full-scale engine / WebP / AVIF / JPEG",
            "CPU ms",
            "KiB",
            "SSIM",
        ],
        rows,
    )
    out.append("")
    matched = conv.get("matched")
    if matched:
        out += _matched_lines(matched, conv.get("absent_encoders", []))
    return [*out, ""]


def _matched_lines(m: Mapping[str, Any], absent: list[str]) -> list[str]:
    load = ", ".join(f"{v:.2f}" for v in m["load_average_before"])
    out = [
        "Each encoder, effort and option at **equal quality**: the quality is bisected to the lowest whose output"
        " reaches the SSIM of *before*'s output of that format (same judge as above), on the picture convert"
        f" encodes today; KiB and CPU (all threads, median of {m['repeats']}, interleaved) there. A blank quality:"
        " no quality reaches it. AV1 encoders the wheels do not ship: "
        + (", ".join(absent) or "none")
        + f" (libheif in the pyvips wheel has libaom only as well). Load average at the start: {load}.",
        "",
    ]
    for name, t in m["inputs"].items():
        targets = ", ".join(f"{k} {v}" for k, v in t["targets"].items())
        shipped = sum(t["shipped_kib"].values())
        fastest = t["fastest"]
        best = (
            "none within the bytes"
            if fastest is None
            else f"{'; '.join(f'{k}: {v}' for k, v in fastest['choice'].items())}: encoders {fastest['cpu_ms']:.0f} ms,"
            f" {fastest['kib']:.1f} KiB ({fastest['kib'] / shipped:.3f}x)"
        )
        out.append(
            f"**{name}**: SSIM targets {targets}; before's outputs {shipped:.1f} KiB; decode and shrink"
            f" {t['decode_shrink_cpu_ms']:.0f} ms CPU before any encoder. Fastest combination within"
            f" {m['bytes_ratio_target']}x bytes: {best}."
        )
        out.append("")
        rows = [
            [
                r["format"],
                r["encoder"],
                r["setting"],
                "" if r["quality"] is None else str(r["quality"]),
                f"{r['kib']}" if "kib" in r else "",
                f"{r['cpu_ms']:.0f}" if "cpu_ms" in r else "",
                f"{r['ssim']}" if "ssim" in r else "",
            ]
            for r in t["rows"]
        ]
        out += _table(["format", "encoder", "setting", "quality", "KiB", "CPU ms", "SSIM"], rows)
        out.append("")
    return out


def _throughput_lines(thr: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    if not thr:
        return []
    if "error" in thr and "bursts" not in thr:
        return [("local stack throughput", thr["error"], "-", "not measured", "-")]
    bursts = thr.get("bursts", {})
    lines = []
    for n, b in bursts.items():
        value = b.get("error") or f"{b['statuses']}"
        lines.append(
            (f"local stack: {n} uploads completed", value, f"{n} completed", _verdict(b.get("all_completed")), "-")
        )
    sizes = list(bursts)
    if "burst_ratio" in thr:
        small, large = (bursts[k]["uploads_per_s"] for k in sizes)
        value = f"{thr['burst_ratio']:.2f} ({large} vs {small} uploads/s)"
        lines.append(
            (f"throughput at {sizes[1]} / at {sizes[0]}", value, ">= 0.8", _verdict(thr["burst_ratio_met"]), "-")
        )
    floor = thr.get("floor", {})
    if "floor_fraction" in thr:
        value = (
            f"{thr['floor_fraction']:.2f} (floor {floor['uploads_per_s']} uploads/s:"
            f" {floor['cores']} cores / {floor['cpu_s_per_upload']} CPU-s)"
        )
        lines.append(
            (f"throughput at {sizes[1]} / CPU floor", value, ">= 0.65", _verdict(thr["floor_fraction_met"]), "-")
        )
    small = thr.get("small_files")
    if small:
        value = small.get("error") or f"{small['wall_s']} s, {small['statuses']}"
        lines.append(
            (f"{small['n']} small images, copied out", value, "< 300 s (for 1,000)", _verdict(small.get("met")), "-")
        )
    tiny = thr.get("tiny_files")
    if tiny:
        value = tiny.get("error") or (
            f"{tiny['uploads_per_s']} uploads/s ({tiny['wall_s']} s, start-up {tiny['wall_s_one']} s),"
            f" {tiny['statuses']}"
        )
        lines.append(
            (f"{tiny['n']} tiny images, copied out", value, ">= 5 uploads/s (for 300)", _verdict(tiny.get("met")), "-")
        )
    return lines


def _cap_lines(cap: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Per image processor: the memory_mb re-derived from its worst peak at the 50 MP cap."""
    lines = []
    for name, z in cap.get("processors", {}).items():
        if "error" in z:
            value = z["error"]
        else:
            value = f"{z['derived_memory_mb']} MB (peak {z['peak_mib']:.0f} MiB, {z['worst_input']})"
        limit = f"<= {cap['goal_memory_mb']} MB"
        lines.append((f"50 MP cap {name}: memory_mb", value, limit, _verdict(z.get("met")), "-"))
    return lines


def _cap_section(cap: Mapping[str, Any]) -> list[str]:
    out = ["## At the 50 MP pixel cap", ""]
    out.append(
        "Every image processor on every input format at the cap, each run a fresh process that imports the whole"
        f" handler first (median of {cap['repeats']}); peak = the function's (max of import and work), MiB."
        " *memory_mb* is derived from the worst peak by the sizing rule: peak x 1.3 + 64 MiB, rounded up to a usual"
        " Lambda size."
    )
    out.append("")
    names = list(cap["inputs"])
    header = ["processor", *(f"{n} peak / CPU s" for n in names), "derived memory_mb", "manifest memory_mb"]
    rows = []
    for name, z in cap["processors"].items():
        cells = []
        for n in names:
            s = z["inputs"][n]
            cells.append(
                "error: " + s["error"] if "error" in s else f"{s['function_peak_mib']:.0f} / {s['cpu_seconds']:.1f}"
            )
        rows.append([name, *cells, z.get("derived_memory_mb", "-"), z["manifest_memory_mb"]])
    return [*out, *_table(header, rows), ""]


def _describe_lines(desc: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Per input: describe's CPU time per upload over thumbnail's (its target: bench/describe.py)."""
    if "error" in desc:
        return [("describe time / thumbnail time", desc["error"], "-", _verdict(None), "-")]
    limit = f"<= {desc.get('target_ratio', '-')}"
    return [
        (f"describe time / thumbnail time {name}", _fmt(r["ratio"]), limit, _verdict(r["met"]), "-")
        for name, r in desc.get("inputs", {}).items()
    ]


def _describe_section(desc: Mapping[str, Any]) -> list[str]:
    out = _head(
        "describe vs thumbnail",
        desc,
        lambda: (
            "Both processors' `process()` in one process, interleaved on each input (describe without its"
            f" DynamoDB duplicate lookup), CPU time, median of {desc['repeats']}. Target: describe time /"
            f" thumbnail time <= {desc['target_ratio']}."
        ),
    )
    if "error" in desc:
        return out
    rows = [
        [
            f"{r['label']} ({name})",
            f"{r['thumbnail_cpu_s'] * 1000:.0f}",
            f"{r['describe_cpu_s'] * 1000:.0f}",
            _fmt(r["ratio"]),
            _verdict(r["met"]),
        ]
        for name, r in desc["inputs"].items()
    ]
    out += _table(["input", "thumbnail CPU ms", "describe CPU ms", "describe / thumbnail", "target"], rows)
    return [*out, ""]


def console_summary(report: Mapping[str, Any]) -> str:
    rows = check_lines(report)
    width = max(len(r[0]) for r in rows) if rows else 10
    out = [f"{'target':<{width}}  {'value':>12}  {'limit':>10}  {'floor':>6}  verdict"]
    out += [f"{a:<{width}}  {b:>12}  {c:>10}  {e:>6}  {d}" for a, b, c, d, e in rows]
    missed = sum(1 for r in rows if r[3].startswith("MISSED"))
    unmeasured = sum(1 for r in rows if r[3] == "not measured")
    out.append(f"\n{len(rows) - missed - unmeasured} met, {missed} MISSED, {unmeasured} not measured")
    cost = report.get("cost", {}).get("cost", {})
    if cost:
        out.append(
            f"cost per million uploads ({cost['basis']}): ${cost['total_usd']:.2f} with Lambda's CPU share"
            f" (${cost['total_without_email_usd']:.2f} without the email delivery;"
            f" floor ${cost.get('floor_usd', 0):.2f})"
        )
    thr = report.get("throughput", {})
    for n, burst in thr.get("bursts", {}).items():
        if "error" not in burst:
            out.append(
                f"local stack: {burst['uploads_per_s']} uploads/s, latency p50 {burst['latency_p50_s']} s,"
                f" p95 {burst['latency_p95_s']} s ({n} uploads, {thr['workers_per_processor']} at once per processor)"
            )
    return "\n".join(out)


def _image_section(img: Mapping[str, Any]) -> list[str]:
    out = ["## Image processors against naive, floor and pyvips", ""]
    out.append(
        f"Median of {img['repeats']} runs, each in a fresh process; times are compared as CPU time (the"
        " operations do no I/O, so CPU time is their wall time on an idle core). Peak is the process's VmHWM during the"
        " operation (interpreter, Pillow and the input bytes included); *work* is that peak minus the RSS just"
        " before the operation. SSIM / PSNR: the worst output against a full-decode Lanczos reference."
    )
    out.append("")
    for name, info in img["inputs"].items():
        out.append(f"### {info['label']} ({info['width']}x{info['height']}, {info['bytes'] / 1e6:.1f} MB)")
        out.append("")
        rows = []
        for key, case in img["cases"].items():
            s, p, op = key.split("/")
            if s != name:
                continue
            if "error" in case:
                rows.append([p, OP_LABELS[op], "error: " + case["error"], "", "", "", "", "", ""])
                continue
            q = case.get("quality", [])
            rows.append(
                [
                    p,
                    OP_LABELS[op],
                    f"{case['cpu_seconds'] * 1000:.0f}",
                    f"{case['seconds'] * 1000:.0f}",
                    f"{case['peak_mib']:.0f}",
                    f"{case['op_mib']:.0f}",
                    f"{min(x['ssim'] for x in q):.4f}" if q else "-",
                    f"{min(x['psnr_db'] for x in q):.1f}" if q else "-",
                    f"{sum(o['bytes'] for o in case['outputs']) / 1024:.0f}" if case["outputs"] else "-",
                ]
            )
        out += _table(
            [
                "processor",
                "operation",
                "CPU ms",
                "wall ms",
                "peak MiB",
                "work MiB",
                "worst SSIM",
                "worst PSNR dB",
                "KiB out",
            ],
            rows,
        )
        out.append("")
    return out


def _cold_section(cold: Mapping[str, Any]) -> list[str]:
    out = ["## Cold start", ""]
    out.append(
        f'`python -c "import services.<name>.handler"` minus a bare `python -c pass`'
        f" ({cold['bare_python_ms']:.0f} ms wall, {cold['bare_python_cpu_ms']:.0f} ms CPU), median of"
        f" {cold['repeats']}, with Lambda's environment variables (so the X-Ray SDK takes its Lambda path)."
        f" Target <= {cold['target_ms']:.0f} ms, judged on CPU time: the import is single-threaded, and on a shared"
        " machine the wall clock also counts the wait for a free core."
    )
    if "target_ratio" in cold:
        out.append(
            f" `import boto3` alone took {cold['boto3_cpu_ms']:.0f} ms CPU in the same rounds (load average"
            f" {', '.join(str(x) for x in cold.get('load_average', []))}); each handler is also judged on"
            f" `import <handler>, boto3` <= {cold['target_ratio']}x that, since every handler makes a client on"
            " its first event. The X-Ray SDK loads on the first invocation X-Ray samples, not at import."
        )
    out.append("")
    rows = []
    for name, h in cold["handlers"].items():
        if "error" in h:
            rows.append([name, "error: " + h["error"], "", "", "", "", "", "", ""])
            continue
        top = ", ".join(f"{x['package']} {x['self_ms']:.0f}" for x in h["slowest_packages"][:4])
        rows.append(
            [
                name,
                f"{h['import_cpu_ms']:.0f}",
                f"{h['with_boto3_cpu_ms']:.0f}" if "with_boto3_cpu_ms" in h else "-",
                f"{h['ratio_to_boto3']:.2f}" if "ratio_to_boto3" in h else "-",
                f"{h['import_ms']:.0f}",
                f"{h['import_ms_min']:.0f}",
                f"{h['peak_mib_after_import']:.0f}",
                _verdict(h["met"]),
                top,
            ]
        )
    header = ["handler", "CPU ms", "+ boto3 CPU ms", "x boto3", "wall ms (median)", "wall ms (min)", "RSS MiB"]
    header += ["target", "slowest (self ms)"]
    return [*out, *_table(header, rows), ""]


def _cost_section(cost: Mapping[str, Any]) -> list[str]:
    out = ["## Per-processor cost and memory sizing", ""]
    out.append(
        "Each run imports the whole handler (the layer) first, then times `process()` on the input; peak is the"
        " function's (max of import and work). Recommended memory = peak x 1.3 + 64 MiB, rounded up to a usual"
        " Lambda size; *at cap* extrapolates the work's memory to the 50 MP pixel cap."
    )
    out.append("")
    rows = []
    for name, entry in cost["processors"].items():
        for inp, s in entry["inputs"].items():
            if "error" in s:
                rows.append([name, inp, "error: " + s["error"], "", "", ""])
            else:
                rows.append(
                    [
                        name,
                        inp,
                        f"{s['cpu_seconds'] * 1000:.0f}",
                        f"{s['seconds'] * 1000:.0f}",
                        f"{s['function_peak_mib']:.0f}",
                        len(s["outputs"]),
                    ]
                )
    out += _table(["processor", "input", "CPU ms", "wall ms", "peak MiB", "variants"], rows)
    out.append("")
    rows = []
    for name, z in cost["sizing"].items():
        if "error" in z:
            rows.append([name, z["error"], "", "", "", ""])
            continue
        rows.append(
            [
                name,
                f"{z['measured_peak_mib']:.0f}",
                z["recommended_memory_mb"],
                f"{z['peak_at_cap_mib_estimate']:.0f}",
                z["recommended_memory_mb_at_cap"],
                z["manifest_memory_mb"],
            ]
        )
    out += _table(
        ["processor", "peak MiB", "recommended MB", "peak at 50 MP (est.) MiB", "recommended at cap MB", "manifest MB"],
        rows,
    )
    out.append("")
    c = cost["cost"]
    p = c["prices"]
    out.append(f"### Cost per million uploads ({c['basis']})")
    out.append("")
    out.append(
        f"Prices {p['date']}: Lambda arm64 ${p['lambda_arm64_gb_s']:.10f} per GB-s and"
        f" ${p['lambda_request'] * 1e6:.2f} per million requests; EventBridge"
        f" ${p['eventbridge_custom_event'] * 1e6:.2f} per million custom events; S3"
        f" ${p['s3_put'] * 1000} per 1,000 PUT and ${p['s3_get'] * 1000} per 1,000 GET/HEAD; SNS"
        f" ${p['sns_publish'] * 1e6:.2f} per million publishes and ${p['sns_email'] * 1e5:.2f} per 100,000 emails."
        " Lambda is priced as it bills: the local CPU time of `process()` stretched by the memory's CPU share"
        " (memory / 1,769 MB of a vCPU), plus an assumed wait per request and per MB moved, at the memory each"
        " processor's curve picks (below)."
    )
    out.append("")
    curves = c.get("memory_curves", {})
    if curves:
        sizes = sorted({pt["memory_mb"] for cv in curves.values() for pt in cv["points"]})
        rows = []
        for name, cv in curves.items():
            by_mb = {pt["memory_mb"]: pt for pt in cv["points"]}
            cells = [
                (
                    f"**{by_mb[mb]['billed_ms']} ms ${by_mb[mb]['usd_per_million']:.2f}**"
                    if mb == cv["chosen_mb"]
                    else f"{by_mb[mb]['billed_ms']} ms ${by_mb[mb]['usd_per_million']:.2f}"
                )
                if mb in by_mb
                else "-"
                for mb in sizes
            ]
            rows.append([name, f"{cv['cpu_ms']} + {cv['wait_ms']}", cv["floor_mb"], *cells])
        out.append(
            "Memory curve per processor (billed time and $ per million invocations; CPU ms measured + wait ms"
            " assumed; *floor*: the size its peak at the 50 MP cap needs). The pick, in bold: the fastest size"
            " within 3% of the cheapest."
        )
        out.append("")
        out += _table(["processor", "CPU + wait ms", "floor MB", *[f"{mb} MB" for mb in sizes]], rows)
        out.append("")
    out += _table(["item", "USD", "basis"], [[ln["item"], _fmt(ln["usd"]), ln["note"]] for ln in c["lines"]])
    out.append(
        f"| **total** | **{c['total_usd']:.2f}** | with Lambda's CPU share applied;"
        f" {c['total_without_email_usd']:.2f} without email delivery;"
        f" {c.get('total_full_core_usd', c['total_usd']):.2f} priced at a full core's speed (as before);"
        f" floor {c.get('floor_usd', 0):.2f} (the upload's PUT, the variants' PUTs, the email) |"
    )
    out.append("")
    out.append(f"Not included: {c['not_included']}.")
    return [*out, ""]


def _head(title: str, data: Mapping[str, Any], intro: Callable[[], str]) -> list[str]:
    """A section's title and intro, or why it was not measured."""
    if "error" in data:
        return [f"## {title}", "", f"Not measured: {data['error']}", ""]
    return [f"## {title}", "", intro(), ""]


def _throughput_section(thr: Mapping[str, Any]) -> list[str]:
    out = _head(
        "Local stack throughput",
        {k: v for k, v in thr.items() if k != "error" or "bursts" not in thr},
        lambda: (
            f"Bursts of {thr['photo']} uploads through `imgpipe local run --json`,"
            f" {thr['workers_per_processor']} invocations at once per processor, handlers in"
            f" {thr['processes']} worker processes; start-up ({thr['wall_s_one_upload']} s) measured with one"
            " upload and subtracted. Latency: from the start of an upload to its email."
        ),
    )
    if "bursts" not in thr:
        return out
    keys = ("uploads_per_s", "latency_p50_s", "latency_p95_s", "latency_max_s", "statuses", "variants_per_upload")
    rows = [[n, *(b.get(k, b.get("error", "-")) for k in keys)] for n, b in thr["bursts"].items()]
    out += _table(["uploads", "uploads/s", "p50 s", "p95 s", "max s", "statuses", "variants/upload"], rows)
    floor = thr.get("floor", {})
    if "cpu_s_by_processor" in floor:
        parts = ", ".join(f"{k} {v} s" for k, v in floor["cpu_s_by_processor"].items())
        out += [
            "",
            f"CPU floor: {floor['cores']} cores / {floor['cpu_s_per_upload']} CPU-s per upload ({parts}) ="
            f" {floor['uploads_per_s']} uploads/s.",
        ]
    small = thr.get("small_files")
    if small:
        out += ["", f"A folder of {small['n']} small images (under 0.1 MP): {small['wall_s']} s, {small['statuses']}."]
    tiny = thr.get("tiny_files")
    if tiny and not tiny.get("error"):
        out += [
            "",
            f"A folder of {tiny['n']} tiny images (32-96 px): {tiny['uploads_per_s']} uploads/s ({tiny['wall_s']} s;"
            f" start-up, {tiny['wall_s_one']} s with one of them, subtracted), {tiny['statuses']}.",
        ]
    elif tiny:
        out += ["", f"A folder of {tiny['n']} tiny images: not measured: {tiny['error']}."]
    return [*out, ""]


def _package_section(pkg: Mapping[str, Any]) -> list[str]:
    out = _head(
        "Layer size",
        pkg,
        lambda: (
            f"Built with the stack's bundling code for Python {pkg['python_version']} on"
            f" {', '.join(pkg['platforms'])}: {', '.join(pkg['requirements'])}, plus imgpipe."
        ),
    )
    if "error" in pkg:
        return out
    out += _table(
        ["unzipped MB", "zipped MB", "limit (unzipped, function + layers)", "share", "largest"],
        [
            [
                f"{pkg['unzipped_bytes'] / 1e6:.1f}",
                f"{pkg['zipped_bytes'] / 1e6:.1f}",
                f"{pkg['unzipped_limit_bytes'] / 1e6:.0f} MB",
                f"{pkg['share_of_limit'] * 100:.0f}%",
                ", ".join(f"{x['package']} {x['bytes'] / 1e6:.1f}" for x in pkg["largest"][:4]),
            ]
        ],
    )
    return [*out, ""]


def markdown(report: Mapping[str, Any]) -> str:
    m = report["machine"]
    out = [
        "# imgpipe benchmark results",
        "",
        f"Generated {report['generated_at']} by `make bench{' QUICK=1' if report['quick'] else ''}` in"
        f" {report['elapsed_s']:.0f} s on {m['cpu']} ({m['cores']} cores, {m['arch']}), Python {m['python']},"
        f" {m['system']}. Method: [docs/benchmarks.md](../../docs/benchmarks.md). Chart: [latest.png](latest.png).",
        "",
    ]
    runs = report.get("generated_at_by_part", {})
    if len(set(runs.values())) > 1:
        out += ["When each part started: " + ", ".join(f"{k} {v}" for k, v in runs.items()), ""]
    out += ["## Targets", ""]
    out.append(
        "*floor*: the same ratio with the decode floor in imgpipe's place, i.e. the best any code could reach"
        " that decodes with Pillow; where the floor misses the limit too, the target needs a different decoder."
    )
    out.append("")
    out += _table(["target", "value", "limit", "verdict", "floor"], check_lines(report))
    out.append("")
    if "imaging" in report:
        out += _image_section(report["imaging"])
    if "coldstart" in report:
        out += _cold_section(report["coldstart"])
    if "cost" in report:
        out += _cost_section(report["cost"])
    if "throughput" in report:
        out += _throughput_section(report["throughput"])
    if "package" in report:
        out += _package_section(report["package"])
    if "cap" in report:
        out += _cap_section(report["cap"])
    if "describe" in report:
        out += _describe_section(report["describe"])
    if "convert" in report:
        out += _convert_section(report["convert"])
    return "\n".join(out) + "\n"


def chart(report: Mapping[str, Any], path: Path) -> None:
    """Time and peak memory per processor and input: imgpipe against naive, pyvips and the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img = report["imaging"]
    groups: list[tuple[str, str]] = []
    for key in img["cases"]:
        s, p, _ = key.split("/")
        if (s, p) not in groups:
            groups.append((s, p))
    ops = [op for op in ("naive", "processor", "pyvips", "floor")]
    colours = {"naive": "#c44e52", "processor": "#4c72b0", "pyvips": "#8c8c8c", "floor": "#dddddd"}
    fig, axes = plt.subplots(2, 1, figsize=(14, 8), sharex=True)
    width = 0.8 / len(ops)
    for ax, metric, label in (
        (axes[0], "cpu_seconds", "CPU time (s, log scale)"),
        (axes[1], "peak_mib", "peak RSS (MiB)"),
    ):
        for i, op in enumerate(ops):
            xs, ys = [], []
            for g, (s, p) in enumerate(groups):
                case = img["cases"].get(f"{s}/{p}/{op}")
                if case and "error" not in case:
                    xs.append(g + (i - (len(ops) - 1) / 2) * width)
                    ys.append(case[metric])
            ax.bar(xs, ys, width, label=OP_LABELS[op], color=colours[op], edgecolor="#444444", linewidth=0.4)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend(ncol=4, loc="upper left")
    axes[1].set_xticks(range(len(groups)), [f"{p}\n{s}" for s, p in groups], fontsize=8)
    m = report["machine"]
    fig.suptitle(f"imgpipe processors vs naive Pillow, pyvips and the decode floor ({m['cpu']}, 1 core each)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
