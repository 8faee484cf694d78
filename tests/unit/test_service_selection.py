"""Choosing services per deployment (CDK context ``services``, ``imgpipe local up --services``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imgpipe.manifest import ManifestError, parse_manifest
from imgpipe.registry import SelectionError, discover, select

BASE = {
    "memory_mb": 512,
    "timeout_s": 30,
    "produces_variants": True,
    "outputs": {"role": "full"},
    "triggers": [{"source": "uploads"}],
}


def _m(name: str, enabled: bool = True):
    return parse_manifest(Path("services") / name, {**BASE, "enabled_by_default": enabled})


SERVICES = [_m("convert"), _m("moderate", enabled=False), _m("notify"), _m("resize"), _m("watermark", enabled=False)]


def _names(spec: str | None) -> list[str]:
    return [m.name for m in select(SERVICES, spec)]


@pytest.mark.parametrize("spec", [None, "", "default", " default "])
def test_the_default_is_every_service_enabled_by_default(spec: str | None) -> None:
    assert _names(spec) == ["convert", "notify", "resize"]


def test_all_exact_and_relative_selections() -> None:
    assert _names("all") == ["convert", "moderate", "notify", "resize", "watermark"]
    assert _names("resize, notify") == ["notify", "resize"]
    assert _names("+watermark,-convert") == ["notify", "resize", "watermark"]
    assert _names("-watermark") == ["convert", "notify", "resize"]  # removing one that is off: no change


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("resize,thumbnial", "no service named 'thumbnial' (the services are: convert, moderate"),
        ("+nope", "no service named 'nope'"),
        ("resize,+watermark", "mixes names with +name/-name"),
    ],
)
def test_a_bad_selection_names_the_problem(spec: str, message: str) -> None:
    with pytest.raises(SelectionError, match=re.escape(message)):
        select(SERVICES, spec)


def test_enabled_by_default_must_be_a_boolean() -> None:
    with pytest.raises(ManifestError, match="enabled_by_default"):
        parse_manifest(Path("services") / "resize", {**BASE, "enabled_by_default": "no"})


def test_discover_applies_the_selection_to_both_kinds_of_service() -> None:
    everything = [m.name for m in discover()]
    assert [m.name for m in discover(services="all")] == everything
    assert [m.name for m in discover(services="-resize")] == [
        m.name for m in discover(services=None) if m.name != "resize"
    ]
    assert discover(http=True, services="-api") == []
    assert [m.name for m in discover(http=True, services=None)] == ["api"]
