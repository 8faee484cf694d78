"""The ``completions`` trigger and the two needs of completion events and webhooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgpipe.events import COMPLETION_DETAIL_TYPES, COMPLETION_SOURCE, UPLOAD_REJECTED
from imgpipe.manifest import CompletionsTrigger, Manifest, ManifestError, PipelineTrigger, parse_manifest
from imgpipe.needs import Need

BASE = {"memory_mb": 256, "timeout_s": 10}


def _manifest(tmp_path: Path, trigger: dict[str, object], **extra: object) -> Manifest:
    folder = tmp_path / "hook"
    return parse_manifest(folder, {**BASE, "triggers": [trigger], **extra})


def test_a_completions_trigger_matches_notify_s_events_about_this_bucket(tmp_path: Path) -> None:
    m = _manifest(tmp_path, {"source": "completions"}, needs=["webhook_secret"])
    [trigger] = m.triggers
    assert trigger.event_pattern("up") == {
        "source": [COMPLETION_SOURCE],
        "detail-type": list(COMPLETION_DETAIL_TYPES),
        "detail": {"bucket": ["up"]},
    }
    # it names no producer: adding or removing one leaves the rule as it is
    assert trigger.event_pattern("up", ["resize", "zzz"]) == trigger.event_pattern("up")
    assert not m.upload_triggers() and Need.WEBHOOK_SECRET in m.needs
    assert COMPLETION_SOURCE == "imgpipe.notify"


def test_a_completions_trigger_may_narrow_the_detail_types(tmp_path: Path) -> None:
    m = _manifest(tmp_path, {"source": "completions", "detail_types": [UPLOAD_REJECTED]})
    assert m.triggers[0].event_pattern("up")["detail-type"] == [UPLOAD_REJECTED]


@pytest.mark.parametrize(
    ("trigger", "problem"),
    [
        ({"source": "completions", "detail_types": ["Variant Created"]}, "unknown detail-type 'Variant Created'"),
        ({"source": "completions", "prefixes": ["a/"]}, "key filters apply to 'uploads' triggers only"),
        ({"source": "pipeline", "detail_types": ["Upload Completed"]}, "unknown detail-type 'Upload Completed'"),
        ({"source": "completion"}, "'completions'"),
    ],
)
def test_a_wrong_completions_trigger_is_named(tmp_path: Path, trigger: dict[str, object], problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        _manifest(tmp_path, trigger)


def test_a_completions_trigger_is_not_a_pipeline_one() -> None:
    # the local tracker takes a pipeline trigger for notify's (who sends the email)
    assert not isinstance(CompletionsTrigger(), PipelineTrigger)
    assert CompletionsTrigger().source != "pipeline"
    assert not hasattr(CompletionsTrigger(), "matches_key")
