"""HTTP services in the manifest contract: an ``http`` trigger lists routes instead of an
EventBridge rule, is validated like every other field, and keeps such a service out of what the
event-driven consumers (the stack's processors, the local stack's workers) discover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imgpipe.manifest import HttpTrigger, ManifestError, parse_manifest
from imgpipe.registry import DEFAULT_ROOT, discover

BASE: dict[str, Any] = {"name": "web", "memory_mb": 256, "timeout_s": 10}


def _http(**trigger: Any) -> dict[str, Any]:
    return {**BASE, "triggers": [{"source": "http", **trigger}]}


def test_an_http_trigger_carries_its_routes_and_public_ones() -> None:
    m = parse_manifest(
        Path("services/web"),
        _http(
            routes=["GET /api/things", "POST /api/things/{id}/parts", "GET /api/doc"], public_routes=["GET /api/doc"]
        ),
    )
    assert m.http == HttpTrigger(
        routes=("GET /api/things", "POST /api/things/{id}/parts", "GET /api/doc"),
        public_routes=("GET /api/doc",),
    )
    assert m.upload_triggers() == () and not m.matches_key("users/a/b/c.jpg")
    assert m.rule_triggers() == ()  # served by the API, not by an EventBridge rule
    assert not hasattr(m.http, "event_pattern")


@pytest.mark.parametrize(
    ("raw", "field", "problem"),
    [
        (_http(), "triggers[0].routes", "at least one route"),
        (_http(routes=["GET api/x"]), "triggers[0].routes", "must be '<METHOD> /path"),
        (_http(routes=["FETCH /api/x"]), "triggers[0].routes", "must be '<METHOD> /path"),
        (_http(routes=["GET /api/{Id}"]), "triggers[0].routes", "must be '<METHOD> /path"),
        (_http(routes=["GET /api/x{id}"]), "triggers[0].routes", "must be '<METHOD> /path"),
        (_http(routes=["GET /api/x", "GET /api/x"]), "triggers[0].routes", "twice"),
        (_http(routes=["GET /api/x"], public_routes=["GET /api/y"]), "triggers[0].public_routes", "not one of"),
        (_http(routes=["GET /api/x"], prefixes=["a/"]), "triggers[0].prefixes", "not a known field"),
        (
            {**BASE, "triggers": [{"source": "http", "routes": ["GET /api/x"]}, {"source": "uploads"}]},
            "triggers",
            "only trigger",
        ),
        (
            {**BASE, "produces_variants": True, "triggers": [{"source": "http", "routes": ["GET /api/x"]}]},
            "produces_variants",
            "needs an 'uploads' trigger",
        ),
    ],
)
def test_a_bad_http_trigger_names_the_field(raw: dict[str, Any], field: str, problem: str) -> None:
    with pytest.raises(ManifestError, match=problem) as caught:
        parse_manifest(Path("services/web"), raw)
    assert caught.value.field == field


def test_discovery_keeps_the_two_kinds_apart() -> None:
    events = discover(DEFAULT_ROOT)
    http = discover(DEFAULT_ROOT, http=True)
    assert [m.name for m in http] == ["api"]
    assert all(m.http is None for m in events) and "api" not in {m.name for m in events}
