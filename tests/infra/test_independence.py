"""Adding a processor folder adds resources and changes none that exist.

The one allowed change: notify's IMGPIPE_EXPECTED_PRODUCERS, generated from the manifests.
The new folder's name sorts first, so ids derived from a position in the processor list would
all shift and fail here; so would a processor wired by hand with ids that depend on the others.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.infra.synth import Synthesized, synthesize

EXTRA = "annotate"
EXTRA_MANIFEST = f"""
name = "{EXTRA}"
description = "Test-only processor added by the independence test."
produces_variants = true
memory_mb = 512
timeout_s = 20
retry_attempts = 1
max_event_age_s = 600
reserved_concurrency = 3

[[triggers]]
source = "uploads"
suffixes = [".png"]

[settings]
label = "x"
"""
EXTRA_HANDLER = "def handler(event, context):\n    return {}\n"


@pytest.fixture(scope="module")
def extended(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> Synthesized:
    root = tmp_path_factory.mktemp("extended") / "services"
    shutil.copytree(services_snapshot, root)
    (root / EXTRA).mkdir()
    (root / EXTRA / "manifest.toml").write_text(EXTRA_MANIFEST)
    (root / EXTRA / "handler.py").write_text(EXTRA_HANDLER)
    (root / EXTRA / "__init__.py").write_text("")
    return synthesize(tmp_path_factory.mktemp("cdk.out-extended"), root)


def _canonical(resource: dict[str, Any]) -> str:
    return json.dumps(resource, sort_keys=True)


def _notify_function_id(synthesized: Synthesized) -> str:
    return synthesized.logical_id(synthesized.stack.processors["notify"].function)


def _without_expected_producers(resource: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(resource)
    stripped["Properties"]["Environment"]["Variables"].pop("IMGPIPE_EXPECTED_PRODUCERS")
    return stripped


def test_every_existing_resource_keeps_its_id_and_properties(synthesized: Synthesized, extended: Synthesized) -> None:
    before, after = synthesized.resources, extended.resources
    missing = sorted(set(before) - set(after))
    assert missing == [], f"renamed or removed: {missing}"
    notify_id = _notify_function_id(synthesized)
    changed = [k for k, resource in before.items() if k != notify_id and _canonical(resource) != _canonical(after[k])]
    assert changed == [], f"changed by adding a processor: {changed}"
    assert _without_expected_producers(before[notify_id]) == _without_expected_producers(after[notify_id])


def test_notify_expects_the_new_producer(synthesized: Synthesized, extended: Synthesized) -> None:
    def expected(s: Synthesized) -> list[dict[str, Any]]:
        env = s.resources[_notify_function_id(s)]["Properties"]["Environment"]["Variables"]
        return json.loads(env["IMGPIPE_EXPECTED_PRODUCERS"])

    assert EXTRA not in [e["name"] for e in expected(synthesized)]
    (entry,) = [e for e in expected(extended) if e["name"] == EXTRA]
    assert entry["triggers"] == [{"prefixes": [], "suffixes": [".png"]}]


def test_the_new_processor_gets_its_own_full_set(synthesized: Synthesized, extended: Synthesized) -> None:
    added = {k: v for k, v in extended.resources.items() if k not in synthesized.resources}
    assert added and all(k.startswith(EXTRA) for k in added), sorted(added)
    counts: dict[str, int] = {}
    for resource in added.values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    assert counts == {
        "AWS::Lambda::Function": 1,
        "AWS::Lambda::EventInvokeConfig": 1,
        "AWS::Lambda::Permission": 1,
        "AWS::Logs::LogGroup": 1,
        "AWS::IAM::Role": 1,
        "AWS::IAM::Policy": 1,
        "AWS::Events::Rule": 1,
        "AWS::SQS::Queue": 2,
        "AWS::SQS::QueuePolicy": 2,
        "AWS::CloudWatch::Alarm": 2,
    }
    function = extended.resources[extended.logical_id(extended.stack.processors[EXTRA].function)]["Properties"]
    assert function["ReservedConcurrentExecutions"] == 3
    (rule,) = [r for k, r in added.items() if r["Type"] == "AWS::Events::Rule"]
    key_filter = rule["Properties"]["EventPattern"]["detail"]["object"]["key"]
    assert key_filter == [{"suffix": {"equals-ignore-case": ".png"}}]
    # Outputs: the existing ones are unchanged, the new processor adds its own.
    before, after = synthesized.template["Outputs"], extended.template["Outputs"]
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == ["AnnotateFailureDlqUrl", "AnnotateFunctionName", "AnnotateTargetDlqUrl"]
