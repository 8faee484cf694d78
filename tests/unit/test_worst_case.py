"""The worst case one upload can cost, and the hourly ceiling reserved concurrency puts on a flood."""

from __future__ import annotations

from pathlib import Path

from bench.cost import PRICES, worst_case, worst_case_table
from imgpipe.manifest import parse_manifest
from imgpipe.registry import discover


def _m(name: str, *, memory_mb: int, timeout_s: int, retries: int, reserved: int, pipeline: bool = False):
    triggers = [{"source": "uploads"}] + ([{"source": "pipeline"}] if pipeline else [])
    return parse_manifest(
        Path(name),
        {
            "memory_mb": memory_mb,
            "timeout_s": timeout_s,
            "retry_attempts": retries,
            "reserved_concurrency": reserved,
            "produces_variants": not pipeline,
            **({} if pipeline else {"outputs": {"role": "responsive"}}),
            "triggers": triggers,
        },
    )


def test_every_failed_attempt_runs_to_its_timeout() -> None:
    manifests = [
        _m("big", memory_mb=2048, timeout_s=100, retries=2, reserved=10),
        _m("keeper", memory_mb=1024, timeout_s=10, retries=1, reserved=0, pipeline=True),
    ]
    result = worst_case(manifests)
    assert result["per_service"]["big"] == {"events": 1.0, "gb_s": 600.0}  # 3 attempts x 100 s x 2 GB
    keeper_events = 1 + 1  # the upload's event, and one per producer (one producer here)
    assert result["per_service"]["keeper"] == {"events": keeper_events, "gb_s": keeper_events * 2 * 10 * 1.0}
    assert result["gb_s_per_upload"] == 600.0 + keeper_events * 20
    assert result["max_usd_per_hour"] == round(10 * 2 * 3600 * PRICES["lambda_arm64_gb_s"], 2)
    assert result["unbounded"] == ["keeper"]


def test_the_shipped_services_are_all_bounded() -> None:
    result = worst_case(discover())
    assert result["unbounded"] == []
    assert result["gb_s_per_upload"] > 0 and result["max_usd_per_hour"] > 0


def test_the_reliability_doc_shows_the_worst_case_of_the_default_manifests() -> None:
    """A manifest's memory, timeout or retries changes the table: docs/reliability.md must follow."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text()
    assert worst_case_table(discover(services=None)) in doc, "run `python -m bench.cost --worst-case` and paste it"
