"""The bench's own arithmetic: target verdicts, memory sizing, cost lines, quality scores.

The bench itself (`make bench`) is not run here: it takes minutes and measures the machine.
These tests pin the parts whose mistakes would silently print a wrong verdict.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bench import cost, imaging, ops, procstat, report


def _case(cpu_s: float, peak_mib: float, ssim: float | None = None) -> dict[str, Any]:
    case: dict[str, Any] = {"seconds": cpu_s, "cpu_seconds": cpu_s, "peak_mib": peak_mib, "outputs": []}
    if ssim is not None:
        case["quality"] = [{"name": "x", "ssim": ssim, "psnr_db": 40.0}]
    return case


def _checks(cases: dict[str, dict[str, Any]], processor: str) -> dict[str, dict[str, Any]]:
    out = imaging.checks({f"jpeg24/{processor}/{op}": c for op, c in cases.items()}, [processor])
    return {c["check"].split(": ", 1)[1]: c for c in out if c["check"].startswith("jpeg24 ")}


def test_thumbnail_checks_compare_against_naive_floor_and_pyvips() -> None:
    got = _checks(
        {
            "processor": _case(0.10, 40, ssim=0.96),
            "naive": _case(0.50, 130, ssim=0.965),
            "floor": _case(0.09, 33),
            "pyvips": _case(0.08, 50),
        },
        "thumbnail",
    )
    assert got["speed-up over naive"]["value"] == pytest.approx(5.0)
    assert got["speed-up over naive"]["met"] is True
    assert got["time / floor"]["met"] is True  # 1.11 <= 1.25
    assert got["time / pyvips"]["met"] is False  # 1.25 > 1.0: slower than pyvips is a miss
    assert got["peak RSS / naive"]["met"] is True
    assert got["worst SSIM - naive's"]["met"] is True  # 0.005 lower is within the tolerance


def test_a_quality_loss_beyond_the_tolerance_is_a_miss() -> None:
    got = _checks({"processor": _case(0.1, 40, ssim=0.90), "naive": _case(0.5, 130, ssim=0.96)}, "convert")
    assert got["worst SSIM - naive's"]["met"] is False


def test_a_target_the_floor_cannot_reach_is_flagged_and_still_missed() -> None:
    # a PNG: no reduced-scale decode, so naive is barely slower than decoding alone
    got = _checks(
        {"processor": _case(0.6, 140, 0.99), "naive": _case(0.8, 135, 0.99), "floor": _case(0.5, 85)}, "thumbnail"
    )
    speedup = got["speed-up over naive"]
    assert speedup["met"] is False
    assert speedup["bound"] == pytest.approx(1.6)
    assert speedup["floor_meets_it"] is False
    verdicts = {line[0]: line[3] for line in report.check_lines({"imaging": {"checks": list(got.values())}})}
    assert verdicts["jpeg24 thumbnail: speed-up over naive"] == "MISSED (the decode floor misses it too)"


def test_an_operation_that_failed_is_not_measured_never_met() -> None:
    got = _checks({"processor": {"error": "NotImplementedError"}, "naive": _case(0.5, 130)}, "resize")
    assert got["speed-up over naive"]["met"] is None
    assert got["peak RSS / naive"]["met"] is None


@pytest.mark.parametrize(
    ("peak_mib", "expected_mb"),
    [(40, 128), (50, 256), (100, 256), (200, 384), (400, 640), (900, 1280), (20000, 10240)],
)
def test_recommended_memory_is_peak_plus_headroom_rounded_up(peak_mib: float, expected_mb: int) -> None:
    assert cost.recommend_memory(peak_mib) == expected_mb
    assert expected_mb >= min(peak_mib * cost.HEADROOM_FACTOR + cost.HEADROOM_MIB, cost.MEMORY_STEPS[-1])


def _measured(cpu_s: float, variants: int) -> dict[str, Any]:
    typical = {
        "cpu_seconds": cpu_s,
        "seconds": cpu_s,
        "outputs": [{}] * variants,
        "function_peak_mib": 100.0,
        "op_mib": 50.0,
        "megapixels": 12.2,
    }
    return {"manifest_memory_mb": 1024, "inputs": {cost.TYPICAL: typical}}


def test_cost_per_million_adds_up_from_prices_and_request_counts() -> None:
    measured = {"resize": _measured(0.5, 4), "thumbnail": _measured(0.1, 1)}
    sizes = cost.sizing(measured)
    assert sizes["resize"]["recommended_memory_mb"] == 256
    result = cost.cost_per_million(measured, sizes)
    lines = {ln["item"]: ln["usd"] for ln in result["lines"]}
    # 0.5 s of CPU at 640 MB's share of a vCPU (its curve's pick), 7 requests' wait, one request
    curve = result["memory_curves"]["resize"]
    assert curve["floor_mb"] == 512 and curve["chosen_mb"] == 640 and curve["wait_ms"] == 140
    billed = 0.5 * 1769 / 640 + 7 * cost.WAIT_S_PER_REQUEST
    assert lines["Lambda resize"] == pytest.approx(1e6 * (billed * 0.625 * 0.0000133334 + 0.2e-6), abs=0.01)
    # 1 GET of the upload + 1 HEAD of the last variant, one PUT per variant (no done record)
    assert lines["S3 requests resize"] == pytest.approx(2 * 0.4 + 4 * 5.0, abs=0.01)
    # one Variants Created per producer and the completion event, $1 per million entries
    assert lines["EventBridge"] == pytest.approx(3.0)
    # the upload's event, the producers' together, the claim and the confirm: 4 writes, not 1 per variant's 8
    assert lines["DynamoDB notify"] == pytest.approx(cost.catalog_write_units([4, 1]) * 0.625, abs=0.01)
    assert lines["SNS email delivery"] == pytest.approx(20.0)
    assert result["total_usd"] == pytest.approx(sum(lines.values()), abs=0.05)
    # below 1,769 MB a function has a fraction of a vCPU: CPU-bound work costs more than at local speed
    assert result["total_usd"] == result["total_cpu_scaled_usd"] > result["total_full_core_usd"]
    # the upload's PUT, 5 variants' PUTs, the email and its publish
    assert result["floor_usd"] == pytest.approx(6 * 5.0 + 20.0 + 0.5)
    # notify: two batches of its 3 events (the upload's, one per producer), and its queue's requests
    assert lines["Lambda notify"] == pytest.approx(3 * 0.05 * 0.25 * 13.3334 + 2 * 0.2, abs=0.01)
    assert lines["SQS notify"] == pytest.approx((3 + 2 + 2) * 0.4)
    assert result["invocations_per_upload"] == 2 + 2


def test_the_request_target_counts_calls_and_notify_s_queue_against_the_count_before() -> None:
    """The budget test's upload: the handlers' calls (not PutEvents entries, DynamoDB's request
    units or the invocations, which are counted too) and notify's queue."""
    r = cost.request_target()
    # producers: 1 GET, 1 HEAD (the skip evidence), a PUT per variant (7), 1 PutEvents each;
    # notify: HEAD, GET, 4 UpdateItem, Publish, PutEvents
    assert r["handlers"] == 3 * 3 + 7 + 8 == 24
    # 4 events sent, 2 batches received and deleted
    assert r["queue"] == 4 + 2 + 2
    assert r["total"] == 32 and r["before"] == 40 and not r["met"]
    lines = {line[0]: line for line in report.check_lines({"cost": {"cost": _priced()}})}
    assert lines["invocations per upload (default services)"][3] == "met"
    assert lines["AWS requests per upload (convert, resize, thumbnail, notify)"][1].startswith("32 = 24 ")


def _priced() -> dict[str, Any]:
    measured = {"resize": _measured(0.5, 4), "thumbnail": _measured(0.1, 1)}
    return cost.cost_per_million(measured, cost.sizing(measured))


def test_the_memory_curve_gives_cpu_bound_work_a_full_vcpu_and_waiting_work_its_floor() -> None:
    busy = cost.memory_curve(cpu_s=2.0, wait_s=0.05, floor_mb=512)
    idle = cost.memory_curve(cpu_s=0.02, wait_s=0.3, floor_mb=512)
    assert busy["chosen_mb"] == 1769 and idle["chosen_mb"] == 512
    # CPU-bound: the same GB-s at every size below a full vCPU, 3.5x the latency at 512 MB
    at = {pt["memory_mb"]: pt for pt in busy["points"]}
    assert at[512]["billed_ms"] == pytest.approx(at[1769]["billed_ms"] * 1769 / 512, rel=0.05)
    assert cost.memory_curve(cpu_s=2.0, wait_s=0.05, floor_mb=1100)["points"][0]["memory_mb"] == 1280
    assert cost.billed_seconds(1.0, 0.0, 1769) == cost.billed_seconds(1.0, 0.0, 3008) == 1.0


def test_a_processor_without_measurement_leaves_the_cost_incomplete() -> None:
    measured = {"resize": {"manifest_memory_mb": 1024, "inputs": {cost.TYPICAL: {"error": "boom"}}}}
    result = cost.cost_per_million(measured, cost.sizing(measured))
    assert result["complete"] is False


def test_floor_decodes_just_large_enough_to_cover_every_output() -> None:
    plan = [ops.Target("300x300", "webp", 300, 300)]
    assert ops.floor_size((6000, 4000), plan) == (450, 300)
    widths = ops.default_plan("resize", {"widths": [320, 640, 1920, 8000]}, (6000, 4000), alpha=False)
    assert [t.width for t in widths] == [1920, 640, 320]
    assert ops.floor_size((6000, 4000), widths) == (1920, 1280)


def test_naive_makes_the_planned_outputs() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(buf, "JPEG")
    plan = [ops.Target("100x100", "webp", 100, 100)]
    made = ops.naive(buf.getvalue(), "thumbnail", plan)
    with Image.open(io.BytesIO(made[0].data)) as img:
        assert (img.format, img.size) == ("WEBP", (100, 100))


def test_peak_memory_is_read_and_reset_in_this_process() -> None:
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"\1" * len(block[::4096])  # touch every page so it is resident
    peak_with_block = procstat.peak_rss_kib()
    del block
    assert procstat.reset_peak()
    assert procstat.peak_rss_kib() < peak_with_block - 32 * 1024
    assert procstat.peak_rss_kib() >= procstat.rss_kib() - 1024


@pytest.fixture
def np() -> Any:
    """Quality scoring uses numpy (in the dev extra too, so these tests always run)."""
    import numpy

    return numpy


def _photo(np: Any, size: tuple[int, int] = (400, 240)) -> Image.Image:
    rng = np.random.default_rng(7)
    coarse = Image.fromarray(rng.integers(0, 256, (12, 20, 3), dtype=np.uint8), "RGB")
    return coarse.resize(size, Image.Resampling.BICUBIC)


def _webp(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "WEBP", lossless=True)
    return buf.getvalue()


def test_ssim_and_psnr_are_perfect_for_identical_planes_and_drop_with_noise(np: Any) -> None:
    from bench import quality

    a = np.asarray(_photo(np).convert("L"), dtype=np.float64)
    noisy = np.clip(a + np.random.default_rng(1).normal(0, 20, a.shape), 0, 255)
    assert quality.ssim(a, a) == pytest.approx(1.0)
    assert quality.psnr(a, a) == 99.0
    assert quality.ssim(a, noisy) < 0.9
    assert quality.psnr(a, noisy) < 25


def test_score_finds_an_off_centre_crop_in_the_reference(np: Any) -> None:
    from bench import quality

    source = _photo(np)
    # a square crop from the right-hand side, as a content-positioned thumbnail would take
    cover = source.resize((200, 120), Image.Resampling.LANCZOS)
    crop = cover.crop((75, 0, 195, 120))
    good = quality.score("crop", source, _webp(crop))
    assert good.ssim > 0.99
    # the same crop mirrored is not that part of the picture: it must score clearly lower
    bad = quality.score("mirrored", source, _webp(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    assert bad.ssim < good.ssim - 0.1


def test_the_cap_run_compares_peak_with_pyvips_and_quality_with_the_pillow_only_figures() -> None:
    today = imaging.SSIM_BASELINE["jpeg24/thumbnail"]
    got = _checks(
        {
            "processor": _case(0.07, 60, ssim=today - 0.002),
            "naive": _case(0.50, 130, ssim=0.965),
            "floor": _case(0.06, 33),
            "pyvips": _case(0.08, 50),
        },
        "thumbnail",
    )
    assert got["peak RSS / pyvips"]["value"] == pytest.approx(1.2)
    assert got["peak RSS / pyvips"]["met"] is False  # 60 MiB against pyvips' 50
    assert got["peak RSS / pyvips"]["floor_meets_it"] is True
    assert got[f"worst SSIM - today's ({today})"]["met"] is False  # 0.002 below today's
    same = _checks({"processor": _case(0.07, 40, ssim=today + 0.00004), "pyvips": _case(0.08, 50)}, "thumbnail")
    assert same[f"worst SSIM - today's ({today})"]["met"] is True  # equal at the baseline's precision
    assert same["peak RSS / pyvips"]["met"] is True


def test_the_cap_part_derives_memory_by_the_sizing_rule_and_judges_the_goal() -> None:
    cap = {
        "goal_memory_mb": 1024,
        "processors": {
            "resize": {"peak_mib": 700.0, "worst_input": "webp50a", "derived_memory_mb": cost.recommend_memory(700)},
            "convert": {"error": "not measured on every format", "met": None},
        },
    }
    cap["processors"]["resize"]["met"] = cap["processors"]["resize"]["derived_memory_mb"] <= 1024
    lines = {line[0]: line for line in report.check_lines({"cap": cap})}
    assert lines["50 MP cap resize: memory_mb"][1].startswith("1024 MB")  # 700 x 1.3 + 64 = 974 -> 1024
    assert lines["50 MP cap resize: memory_mb"][3] == "met"
    assert lines["50 MP cap convert: memory_mb"][3] == "not measured"


def test_the_layer_is_judged_against_the_libvips_budget_too() -> None:
    pkg = {"unzipped_bytes": 130e6, "met": True, "target_bytes": 120_000_000, "target_met": False}
    lines = {line[0]: line for line in report.check_lines({"package": pkg})}
    assert lines["layer unzipped"][3] == "met"
    assert lines["layer unzipped (with libvips)"][3] == "MISSED"


def test_the_bench_stops_before_measuring_when_an_extra_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from bench import cli

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "matplotlib" else real(name))
    monkeypatch.setattr(cli, "discover", lambda: pytest.fail("measured without the bench extra"))
    assert cli.missing_modules() == ["matplotlib"]
    assert cli.main(["--quick"]) == 2


def test_the_report_has_describe_against_thumbnail_with_a_verdict_per_input() -> None:
    desc = {
        "repeats": 5,
        "target_ratio": 1.2,
        "inputs": {
            "jpeg24": {"label": "24 MP baseline JPEG", "thumbnail_cpu_s": 0.100, "describe_cpu_s": 0.106},
            "png12a": {"label": "12 MP PNG with alpha", "thumbnail_cpu_s": 0.400, "describe_cpu_s": 0.520},
        },
    }
    for row in desc["inputs"].values():
        row["ratio"] = row["describe_cpu_s"] / row["thumbnail_cpu_s"]
        row["met"] = row["ratio"] <= desc["target_ratio"]
    lines = {line[0]: line for line in report.check_lines({"describe": desc})}
    assert lines["describe time / thumbnail time jpeg24"][1:4] == ("1.06", "<= 1.2", "met")
    assert lines["describe time / thumbnail time png12a"][1:4] == ("1.30", "<= 1.2", "MISSED")
    machine = {"cpu": "x", "cores": 2, "arch": "x86_64", "python": "3.11", "system": "Linux"}
    text = report.markdown(
        {"generated_at": "now", "quick": False, "elapsed_s": 1.0, "machine": machine, "describe": desc}
    )
    section = text.split("## describe vs thumbnail", 1)[1]
    assert "| 24 MP baseline JPEG (jpeg24) | 100 | 106 | 1.06 | met |" in section
    assert "| 12 MP PNG with alpha (png12a) | 400 | 520 | 1.30 | MISSED |" in section
    assert "| describe time / thumbnail time png12a | 1.30 | <= 1.2 | MISSED | - |" in text


def test_a_local_run_that_does_not_drain_is_an_error_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import subprocess

    from bench import throughput

    def never_ends(cmd: list[str], **kwargs: Any) -> None:
        raise subprocess.TimeoutExpired(cmd, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", never_ends)
    _, lines, err = throughput._local_run(tmp_path, 2, 60)
    assert lines == []
    assert "did not finish" in err


def test_the_throughput_targets_are_judged_from_the_measured_figures() -> None:
    thr = {
        "workers_per_processor": 4,
        "processes": 2,
        "photo": "1600x1200 JPEG",
        "wall_s_one_upload": 5.0,
        "floor": {"cores": 2, "cpu_s_per_upload": 1.0, "cpu_s_by_processor": {"resize": 1.0}, "uploads_per_s": 2.0},
        "bursts": {
            "50": {"uploads_per_s": 1.0, "statuses": {"completed": 50}, "all_completed": True},
            "500": {"uploads_per_s": 0.7, "statuses": {"completed": 500}, "all_completed": True},
        },
        "burst_ratio": 0.7,
        "burst_ratio_met": False,
        "floor_fraction": 0.35,
        "floor_fraction_met": False,
        "small_files": {"n": 1000, "wall_s": 250.0, "statuses": {"completed": 1000}, "met": True},
    }
    lines = {line[0]: line for line in report.check_lines({"throughput": thr})}
    assert lines["throughput at 500 / at 50"][3] == "MISSED"
    assert lines["throughput at 500 / CPU floor"][3] == "MISSED"
    assert lines["1000 small images, copied out"][3] == "met"
    assert lines["local stack: 500 uploads completed"][3] == "met"
    section = "\n".join(report._throughput_section(thr))
    assert "2 cores / 1.0 CPU-s per upload" in section and "| 500 | 0.7 |" in section


def test_the_large_burst_needs_065_of_the_cpu_floor() -> None:
    from bench import throughput

    floor = {"uploads_per_s": 2.0}
    small = {"uploads_per_s": 1.4}
    assert throughput.judge_bursts(small, {"uploads_per_s": 1.3}, floor)["floor_fraction_met"] is True
    judged = throughput.judge_bursts(small, {"uploads_per_s": 1.29}, floor)
    assert judged["floor_fraction"] == 0.645 and judged["floor_fraction_met"] is False
    assert judged["burst_ratio_met"] is True
    assert throughput.judge_bursts(small, {"error": "x"}, floor) == {}


def test_300_tiny_images_need_5_uploads_per_second_start_up_subtracted() -> None:
    from bench import throughput

    fast = throughput.tiny_result(300, 69.8, 10.0, ["completed"] * 300, "")
    assert fast["uploads_per_s"] == 5.0 and fast["met"] is True
    slow = throughput.tiny_result(300, 70.0, 10.0, ["completed"] * 300, "")
    assert slow["uploads_per_s"] == 4.983 and slow["met"] is False
    lost = throughput.tiny_result(300, 40.0, 10.0, ["completed"] * 299 + ["failed"], "")
    assert lost["met"] is False and lost["statuses"] == {"completed": 299, "failed": 1}
    assert throughput.tiny_result(50, 20.0, 10.0, ["completed"] * 50, "")["met"] is None  # a quick run: not judged
    broken = throughput.tiny_result(300, 30.0, 10.0, [], "the local run did not finish")
    assert broken["met"] is False and broken["uploads_per_s"] is None
    lines = {line[0]: line for line in report.check_lines({"throughput": {"tiny_files": slow}})}
    assert lines["300 tiny images, copied out"][2:4] == (">= 5 uploads/s (for 300)", "MISSED")
    assert "4.983 uploads/s" in lines["300 tiny images, copied out"][1]
    thr = {"tiny_files": fast, "bursts": {}, "workers_per_processor": 4, "processes": 2, "photo": "p"}
    section = "\n".join(report._throughput_section({**thr, "wall_s_one_upload": 5.0}))
    assert "A folder of 300 tiny images (32-96 px): 5.0 uploads/s" in section


def test_the_cost_model_counts_describe_s_index_per_band_as_describe_writes_it() -> None:
    from services.describe.duplicates import bands

    for distance in (0, 6, 15):
        requests = cost.describe_index_requests(distance)
        assert requests["dynamodb.UpdateItem"] == requests["dynamodb.Query"] == len(bands(0xDEADBEEF, distance))
        assert requests["round_trips"] == 2  # services/describe/tests/test_adapters.py holds the waves
    [line] = cost._describe_index_lines({"describe": {}})
    assert line["item"] == "DynamoDB describe" and line["usd"] > 0
    assert cost._describe_index_lines({"resize": {}}) == []


def test_moderate_is_measured_with_its_stand_in_classifier() -> None:
    # moderate's process asks a classifier; the bench measures its own image work with the stand-in
    from imgpipe.registry import discover

    [moderate] = [m for m in discover(services="all") if m.name == "moderate"]
    buf = io.BytesIO()
    Image.new("RGB", (900, 600), (120, 80, 40)).save(buf, "JPEG")
    [made] = ops.load_processor("moderate")(buf.getvalue(), dict(moderate.settings))
    assert made.format == "json" and (made.width, made.height) == (900, 600)
    assert made.facts["checked"]["width"] == 900  # the copy a classifier would be sent


def test_convert_verdicts_need_half_the_cpu_bytes_within_3_percent_and_no_lower_ssim() -> None:
    from bench import convert

    def row(cpu: float, kib: float, ssim: float) -> dict:
        return {
            "config": {"jpeg_full_scale": "vips", "webp_method": 4, "avif_speed": 8},
            "cpu_ms": cpu,
            "kib": kib,
            "kib_by_output": {"full.webp": kib},
            "ssim_by_output": {"full.webp": ssim},
        }

    per_upload = {
        "ok": {"before": row(1000, 100, 0.9), "now": row(500, 103, 0.9)},
        "slow": {"before": row(1000, 100, 0.9), "now": row(501, 100, 0.9)},
        "big": {"before": row(1000, 100, 0.9), "now": row(400, 103.5, 0.95)},
        "worse": {"before": row(1000, 100, 0.9), "now": row(400, 90, 0.8999)},
    }
    v = convert.verdicts(per_upload, "before", "now")
    assert {k: x["met"] for k, x in v.items()} == {"ok": True, "slow": False, "big": False, "worse": False}
    result = {"repeats": 1, "targets": {"cpu_ratio": 0.5, "bytes_ratio": 1.03}, "per_upload": per_upload}
    matched_row = {"format": "webp", "encoder": "Pillow (libwebp)", "setting": "method 2", "quality": 81}
    matched = {
        "repeats": 1,
        "bytes_ratio_target": 1.03,
        "load_average_before": (1.0, 1.0, 1.0),
        "inputs": {
            "ok": {
                "targets": {"webp": 0.9},
                "shipped_kib": {"webp": 100.0},
                "decode_shrink_cpu_ms": 90.0,
                "rows": [matched_row | {"kib": 99.0, "cpu_ms": 120.0, "ssim": 0.9001}],
                "fastest": {"cpu_ms": 120.0, "kib": 99.0, "choice": {"webp": "Pillow (libwebp) method 2 q81"}},
            }
        },
    }
    result |= {"verdicts": v, "matched": matched, "absent_encoders": ["Pillow/libavif svt"]}
    lines = {line[0]: line for line in report.check_lines({"convert": result})}
    assert lines["convert worse vs before"][1] == "0.40x CPU, 0.900x bytes, SSIM < before"
    section = "\n".join(report._convert_section(result))
    assert "Pillow/libavif svt" in section and "vips / m4 q- / s8 q- / q-" in section
    assert "| webp | Pillow (libwebp) | method 2 | 81 | 99.0 | 120 | 0.9001 |" in section
    assert "webp: Pillow (libwebp) method 2 q81: encoders 120 ms, 99.0 KiB (0.990x)" in section


def test_the_quality_search_finds_the_lowest_quality_that_reaches_the_target() -> None:
    from bench.encoder_match import lowest_quality

    encoded: list[int] = []

    def encode(q: int) -> bytes:
        encoded.append(q)
        return bytes(q)

    def ssim_of(data: bytes) -> float:  # rises with quality, in steps as real encoders do
        return 0.9 + (len(data) // 10) / 1000

    assert lowest_quality(encode, ssim_of, 0.906, 0, 100)[:1] == (60,)
    assert lowest_quality(encode, ssim_of, 0.906, 0, 100)[2] == 0.906
    assert len(set(encoded)) == len(encoded) / 2 <= 8  # a bisection, each quality encoded once per search
    assert lowest_quality(encode, ssim_of, 0.95, 0, 100) is None
    assert lowest_quality(encode, ssim_of, 0.5, 10, 100)[0] == 10


def test_the_fastest_combination_keeps_the_bytes_of_all_formats_together_within_budget() -> None:
    from bench.encoder_match import fastest_combination

    def row(fmt: str, setting: str, kib: float, cpu: float) -> dict:
        return {"format": fmt, "encoder": "e", "setting": setting, "quality": 50, "kib": kib, "cpu_ms": cpu}

    rows = [
        row("webp", "slow small", 100, 300),
        row("webp", "fast big", 130, 80),
        row("avif", "slow small", 90, 400),
        row("avif", "fast big", 120, 200),
        {"format": "avif", "encoder": "e", "setting": "never matched", "quality": None},
    ]
    assert fastest_combination(rows, 230)["choice"] == {"webp": "e fast big q50", "avif": "e slow small q50"}
    assert fastest_combination(rows, 250)["cpu_ms"] == 280
    assert fastest_combination(rows, 189) is None


def test_the_cap_part_s_measured_memory_is_the_floor_of_the_cost_curve() -> None:
    measured = {"resize": _measured(0.5, 4)}
    sizes = cost.sizing(measured)
    sizes["resize"]["memory_mb_at_cap_measured"] = 1280
    curve = cost.cost_per_million(measured, sizes)["memory_curves"]["resize"]
    assert curve["floor_mb"] == 1280 and [pt["memory_mb"] for pt in curve["points"]] == [1280, 1536, 1769]


def test_the_convert_part_reads_convert_settings_as_a_deployment_does() -> None:
    """The convert part takes its defaults from convert's Settings class (a manifest has no settings
    table since settings are declared once) and runs convert with only the knobs it compares."""
    from bench import convert
    from services.convert.settings import Settings

    now = convert.current()
    assert dict(now.settings) == {k: getattr(Settings(), k) for k in convert.KNOBS}
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "PNG")
    made = convert._process(
        convert.Config("x", now.jpeg_full_scale, {"webp_method": 0, "avif_speed": 10}), buf.getvalue()
    )
    assert sorted(o.format for o in made) == ["avif", "jpeg", "webp"]
    # before is spelled out: a later default does not move it
    assert convert.BEFORE.settings["avif_quality"] == 60 and convert.BEFORE.settings["webp_quality"] == 80


def test_a_processor_is_priced_at_the_memory_its_manifest_deploys() -> None:
    """A manifest may keep more memory than the curve picks (an input the bench lacks): the cost
    table prices what is deployed and says so."""
    measured = {"resize": _measured(0.5, 4)}
    sizes = cost.sizing(measured)
    picked = cost.cost_per_million(measured, sizes)
    deployed = cost.cost_per_million(measured, sizes, {"resize": 1536})
    assert picked["memory_curves"]["resize"]["chosen_mb"] != 1536
    [line] = [ln for ln in deployed["lines"] if ln["item"] == "Lambda resize"]
    assert "1536 MB, its manifest's" in line["note"]
    assert deployed["total_usd"] != picked["total_usd"]


def test_the_encoders_are_matched_to_before_s_ssim_on_a_small_upload() -> None:
    from functools import partial

    from bench import convert, encoder_match, inputs

    spec = inputs.InputSpec("tiny-alpha", 96, 64, "png", alpha=True)
    result = encoder_match.run([spec], partial(convert._process, convert.BEFORE), 2560, 1)
    table = result["inputs"]["tiny-alpha"]
    assert set(table["targets"]) == {"webp", "avif", "jpeg"}  # before's outputs of a PNG
    matched = [r for r in table["rows"] if r["quality"] is not None]
    assert {r["format"] for r in matched} == {"webp", "avif", "jpeg"}
    assert all(r["ssim"] >= table["targets"][r["format"]] and r["cpu_ms"] >= 0 for r in matched)
    assert table["fastest"]["kib"] <= sum(table["shipped_kib"].values()) * encoder_match.BYTES_RATIO_TARGET


def test_the_cpu_floor_counts_every_producer_the_local_stack_deploys() -> None:
    """The floor is the image work of an upload: every default producer's (describe's included),
    derived from the manifests, not a list that a new producer would have to be added to."""
    from bench import throughput
    from imgpipe.registry import discover

    deployed = {m.name for m in discover(services=None) if m.produces_variants}
    assert {m.name for m in throughput.floor_processors(discover())} == deployed
    assert {"convert", "describe", "resize", "thumbnail"} <= deployed
