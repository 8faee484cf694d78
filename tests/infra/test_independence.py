"""Adding a processor folder adds resources and changes none that exist.

The allowed changes: notify's IMGPIPE_EXPECTED_PRODUCERS and the sources of its pipeline rule
(the producers' exact sources), both generated from the manifests; nothing else. What the CDN
serves is decided per object, by the tag each producer writes its public images with
(imgpipe/outputs.py), so neither the CDN's viewer function, nor its read grant in the variants
bucket's policy, nor what the API and the transform service are told (IMGPIPE_OUTPUTS) lists the
producers. The dashboard finds the services by metric search; the backfill's events reach each
service through the service's own rule.
Two folders are added: ``annotate``, written here, whose name sorts first, so ids derived from a
position in the processor list would all shift and fail here (so would a processor wired by hand
with ids that depend on the others); and ``roomcopy``, a copy of ``services/thumbnail`` with its name
replaced inside its files, which gets everything thumbnail gets with no edit outside its folder
(its own tests pass too: tests/integration/test_room.py).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from imgpipe.outputs import VISIBILITY_TAG
from tests.infra.synth import Synthesized, synthesize
from tests.service_copy import copy_service

EXTRA = "annotate"
PROBE = "roomcopy"  # not "probe": a reader checking the promise by hand copies thumbnail there
EXTRA_MANIFEST = f"""
name = "{EXTRA}"
description = "Test-only processor added by the independence test."
produces_variants = true
memory_mb = 512
timeout_s = 20
retry_attempts = 1
max_event_age_s = 600
reserved_concurrency = 3

[outputs]
role = "derived"

[[triggers]]
source = "uploads"
suffixes = [".png"]

[settings]
label = "x"
"""
EXTRA_HANDLER = "def handler(event, context):\n    return {}\n"
EXTRA_SETTINGS = (
    "from dataclasses import dataclass\n\nfrom imgpipe.settings import setting\n\n\n"
    '@dataclass(frozen=True)\nclass Settings:\n    label: str = setting("x")\n'
)


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
    (root / EXTRA / "settings.py").write_text(EXTRA_SETTINGS)
    copy_service(services_snapshot / "thumbnail", root, PROBE)
    before = synthesized
    for _ in range(3):
        after = synthesize(tmp_path_factory.mktemp("cdk.out-extended"), root, services="all")
        if after.shared_package_hash == before.shared_package_hash:
            break
        before = synthesize(tmp_path_factory.mktemp("cdk.out-baseline"), services_snapshot, services="all")
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


def _notify_pipeline_rule_id(s: Synthesized) -> str:
    """notify's pipeline rule: its sources are the stack's producers, generated like the list above."""
    ids = [s.logical_id(r) for r in s.stack.processors["notify"].rules]
    [lid] = [
        i for i in ids if "Variants Created" in s.resources[i]["Properties"]["EventPattern"].get("detail-type", [])
    ]
    return lid


def _without_sources(resource: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(resource)
    stripped["Properties"]["EventPattern"].pop("source")
    return stripped


def _deployment_fact_ids(s: Synthesized) -> list[str]:
    """What a deployment-level fact about outputs decides (which responsive set is the srcset,
    whether pictures are published marked only, who reads each facts service's facts): the API and
    transform functions (IMGPIPE_OUTPUTS) and the variants bucket's policy (the tag values the CDN
    may read). A service that changes one of them (watermark, a facts service) changes these."""
    door = s.stack.frontdoor
    [policy] = [
        k for k, r in s.of_type("AWS::S3::BucketPolicy").items() if "CdnReadsPublicOutputsOnly" in json.dumps(r)
    ]
    return [s.logical_id(door.function), *(s.logical_id(e.function) for e in s.stack.edge), policy]


def _without_deployment_facts(resource: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(resource)
    props = stripped["Properties"]
    if resource["Type"] == "AWS::Lambda::Function":
        props["Environment"]["Variables"].pop("IMGPIPE_OUTPUTS")
    else:
        for statement in props["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "CdnReadsPublicOutputsOnly":
                statement["Condition"]["StringEquals"].pop(f"s3:ExistingObjectTag/{VISIBILITY_TAG}")
    return stripped


def _without_gate(resource: dict[str, Any]) -> dict[str, Any]:
    """Without what a service that may hold uploads (moderate) adds to the stack: the flag that has
    producers write held and notify release, and the bucket policy's deny of held outputs."""
    stripped = copy.deepcopy(resource)
    props = stripped["Properties"]
    if resource["Type"] == "AWS::Lambda::Function":
        props.get("Environment", {}).get("Variables", {}).pop("IMGPIPE_OUTPUTS_GATED", None)
    elif resource["Type"] == "AWS::S3::BucketPolicy":
        statements = props["PolicyDocument"]["Statement"]
        props["PolicyDocument"]["Statement"] = [s for s in statements if s.get("Sid") != "CdnNeverReadsHeldOutputs"]
    return stripped


def test_every_existing_resource_keeps_its_id_and_properties(baseline: Synthesized, extended: Synthesized) -> None:
    before, after = baseline.resources, extended.resources
    missing = sorted(set(before) - set(after))
    assert missing == [], f"renamed or removed: {missing}"
    notify_id = _notify_function_id(baseline)
    notify_rule = _notify_pipeline_rule_id(baseline)
    allowed = {notify_id, notify_rule}
    changed = [k for k, resource in before.items() if k not in allowed and _canonical(resource) != _canonical(after[k])]
    assert changed == [], f"changed by adding a processor: {changed}"
    assert _without_expected_producers(before[notify_id]) == _without_expected_producers(after[notify_id])
    # notify's pipeline rule admits the new producers' sources, and changes in nothing else
    assert _without_sources(before[notify_rule]) == _without_sources(after[notify_rule])
    sources = after[notify_rule]["Properties"]["EventPattern"]["source"]
    assert sources == sorted(
        [*before[notify_rule]["Properties"]["EventPattern"]["source"], *(f"imgpipe.{n}" for n in (EXTRA, PROBE))]
    )


def test_notify_expects_the_new_producer(baseline: Synthesized, extended: Synthesized) -> None:
    def expected(s: Synthesized) -> list[dict[str, Any]]:
        env = s.resources[_notify_function_id(s)]["Properties"]["Environment"]["Variables"]
        return json.loads(env["IMGPIPE_EXPECTED_PRODUCERS"])

    assert EXTRA not in [e["name"] for e in expected(baseline)]
    (entry,) = [e for e in expected(extended) if e["name"] == EXTRA]
    assert entry["triggers"] == [{"prefixes": [], "suffixes": [".png"]}]
    (probe,) = [e for e in expected(extended) if e["name"] == PROBE]
    (thumbnail,) = [e for e in expected(extended) if e["name"] == "thumbnail"]
    assert probe["triggers"] == thumbnail["triggers"]


def test_the_new_processor_gets_its_own_full_set(baseline: Synthesized, extended: Synthesized) -> None:
    added = {k: v for k, v in extended.resources.items() if k not in baseline.resources}
    assert added and all(k.startswith((EXTRA, PROBE)) for k in added), sorted(added)
    added = {k: v for k, v in added.items() if k.startswith(EXTRA)}
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
        # DLQ depth x2; Errors, Throttles, DestinationDeliveryFailures; the rule's two; per DLQ new
        # messages and oldest message; the rejection rate (it produces variants): infra/components/alarms.py
        "AWS::CloudWatch::Alarm": 12,
    }
    function = extended.resources[extended.logical_id(extended.stack.processors[EXTRA].function)]["Properties"]
    assert function["ReservedConcurrentExecutions"] == 3
    (rule,) = [r for k, r in added.items() if r["Type"] == "AWS::Events::Rule"]
    for pattern in rule["Properties"]["EventPattern"]["$or"]:  # S3's uploads and the backfill's events for it
        assert pattern["detail"]["object"]["key"] == [{"suffix": {"equals-ignore-case": ".png"}}]
    # Outputs: the existing ones are unchanged, each new processor adds its own.
    before, after = baseline.template["Outputs"], extended.template["Outputs"]
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == [
        "FailureDlqUrlAnnotate",
        "FailureDlqUrlRoomcopy",
        "FunctionNameAnnotate",
        "FunctionNameRoomcopy",
        "TargetDlqUrlAnnotate",
        "TargetDlqUrlRoomcopy",
    ]


def test_a_copied_folder_gets_what_its_original_gets(extended: Synthesized) -> None:
    def own(name: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in extended.resources.items() if k.startswith(name)}

    def types(name: str) -> list[str]:
        return sorted(r["Type"] for r in own(name).values())

    def function(name: str) -> dict[str, Any]:
        return extended.resources[extended.logical_id(extended.stack.processors[name].function)]["Properties"]

    assert types(PROBE) == types("thumbnail")
    probe, thumbnail = function(PROBE), function("thumbnail")
    assert probe["Handler"] == f"{PROBE}.handler.handler"
    env, original = probe["Environment"]["Variables"], thumbnail["Environment"]["Variables"]
    assert env["IMGPIPE_SETTINGS"] == original["IMGPIPE_SETTINGS"]
    assert env["POWERTOOLS_SERVICE_NAME"] == PROBE
    assert (probe["MemorySize"], probe["Timeout"]) == (thumbnail["MemorySize"], thumbnail["Timeout"])
