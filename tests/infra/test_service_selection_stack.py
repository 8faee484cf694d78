"""The ``services`` context key decides which services a deployment gets (imgpipe.registry.select)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgpipe.registry import discover
from infra.params import ContextError, from_context
from tests.infra.synth import REPO_SERVICES


def _selected(**context: str) -> list[str]:
    events, http = from_context(context.get, environ={}).selected()
    return sorted(m.name for m in (*events, *http))


def test_a_default_deployment_leaves_out_what_is_off_by_default() -> None:
    everything = {m.name for m in (*discover(REPO_SERVICES), *discover(REPO_SERVICES, http=True))}
    off = {m.name for m in (*discover(REPO_SERVICES), *discover(REPO_SERVICES, http=True)) if not m.enabled_by_default}
    assert {"watermark", "webhook"} <= off  # they cost or need a setting: only when asked for
    assert _selected() == sorted(everything - off)
    assert "describe" in _selected()


def test_the_context_adds_removes_or_lists_services() -> None:
    assert "webhook" in _selected(services="+webhook")
    assert "convert" not in _selected(services="-convert")
    assert _selected(services="resize,notify") == ["notify", "resize"]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"services": "+sepia"}, "context 'services': no service named 'sepia'"),
        ({"services": "resize,+webhook"}, "context 'services': 'resize,+webhook' mixes names"),
        (
            {"settings": '{"webhook": {"url": "https://example.com/hook"}}'},
            "context 'settings': webhook is not deployed (it is off by default or left out by 'services'): "
            "deploy it with -c services=+webhook",
        ),
    ],
)
def test_a_bad_selection_stops_synth_with_the_fix(context: dict[str, str], message: str) -> None:
    with pytest.raises(ContextError) as caught:
        from_context(context.get, environ={}).selected()
    assert message in str(caught.value)


def test_a_selection_from_cdk_json_may_be_a_list() -> None:
    deployment = from_context({"services": ["resize", "notify"]}.get, environ={})
    assert deployment.services == "resize,notify"
    assert deployment.services_root == Path(REPO_SERVICES)
