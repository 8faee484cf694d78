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
def pair(
    tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path, synthesized: Synthesized
) -> tuple[Synthesized, Synthesized]:
    """(before, after) the folder is added, both built from the same imgpipe/ (the layer's source,
    which others may be editing while the tests run)."""
    root = tmp_path_factory.mktemp("extended") / "services"
    shutil.copytree(services_snapshot, root)
    (root / EXTRA).mkdir()
    (root / EXTRA / "manifest.toml").write_text(EXTRA_MANIFEST)
    (root / EXTRA / "handler.py").write_text(EXTRA_HANDLER)
    (root / EXTRA / "__init__.py").write_text("")
    before = synthesized
    for _ in range(3):
        after = synthesize(tmp_path_factory.mktemp("cdk.out-extended"), root)
        if after.shared_package_hash == before.shared_package_hash:
            break
        before = synthesize(tmp_path_factory.mktemp("cdk.out-baseline"), services_snapshot)
    return before, after


@pytest.fixture(scope="module")
def baseline(pair: tuple[Synthesized, Synthesized]) -> Synthesized:
    return pair[0]


@pytest.fixture(scope="module")
def extended(pair: tuple[Synthesized, Synthesized]) -> Synthesized:
    return pair[1]


def _canonical(resource: dict[str, Any]) -> str:
    return json.dumps(resource, sort_keys=True)


def _notify_function_id(s: Synthesized) -> str:
    return s.logical_id(s.stack.processors["notify"].function)


def _without_expected_producers(resource: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(resource)
    stripped["Properties"]["Environment"]["Variables"].pop("IMGPIPE_EXPECTED_PRODUCERS")
    return stripped


def test_every_existing_resource_keeps_its_id_and_properties(baseline: Synthesized, extended: Synthesized) -> None:
    before, after = baseline.resources, extended.resources
    missing = sorted(set(before) - set(after))
    assert missing == [], f"renamed or removed: {missing}"
    notify_id = _notify_function_id(baseline)
    changed = [k for k, resource in before.items() if k != notify_id and _canonical(resource) != _canonical(after[k])]
    assert changed == [], f"changed by adding a processor: {changed}"
    assert _without_expected_producers(before[notify_id]) == _without_expected_producers(after[notify_id])


def test_notify_expects_the_new_producer(baseline: Synthesized, extended: Synthesized) -> None:
    def expected(s: Synthesized) -> list[dict[str, Any]]:
        env = s.resources[_notify_function_id(s)]["Properties"]["Environment"]["Variables"]
        return json.loads(env["IMGPIPE_EXPECTED_PRODUCERS"])

    assert EXTRA not in [e["name"] for e in expected(baseline)]
    (entry,) = [e for e in expected(extended) if e["name"] == EXTRA]
    assert entry["triggers"] == [{"prefixes": [], "suffixes": [".png"]}]


def test_the_new_processor_gets_its_own_full_set(baseline: Synthesized, extended: Synthesized) -> None:
    added = {k: v for k, v in extended.resources.items() if k not in baseline.resources}
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
    before, after = baseline.template["Outputs"], extended.template["Outputs"]
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == ["AnnotateFailureDlqUrl", "AnnotateFunctionName", "AnnotateTargetDlqUrl"]
