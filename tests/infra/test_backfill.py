"""The backfill state machine as synthesized: valid Amazon States Language, a Distributed Map
with its limits from the execution input, and least privilege (list only the uploads bucket,
invoke only the pipeline's functions)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from imgpipe.backfill import ENV_ROUTES, parse_routes
from imgpipe_tools import outputs
from infra.components.backfill import MAP_STATES
from tests.infra.synth import Synthesized

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "node_modules" / ".bin" / "asl-validator"


def _machine(synthesized: Synthesized) -> dict[str, Any]:
    [machine] = synthesized.of_type("AWS::StepFunctions::StateMachine").values()
    return machine["Properties"]


def _definition(synthesized: Synthesized) -> dict[str, Any]:
    return json.loads(_machine(synthesized)["DefinitionString"])


def _validate(definition: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert VALIDATOR.is_file(), "node_modules is missing: run `npm ci` (make test does)"
    path = tmp_path / "definition.asl.json"
    path.write_text(definition)
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    return subprocess.run(
        [str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_deployed_definition_is_valid_amazon_states_language(synthesized: Synthesized, tmp_path: Path) -> None:
    result = _validate(_machine(synthesized)["DefinitionString"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_definition(synthesized: Synthesized, tmp_path: Path) -> None:
    broken = _definition(synthesized)
    del broken["States"][MAP_STATES["listing"]]["ItemProcessor"]
    result = _validate(json.dumps(broken), tmp_path)
    assert result.returncode != 0


def test_each_reader_is_a_distributed_map_limited_by_the_execution_input(synthesized: Synthesized) -> None:
    states = _definition(synthesized)["States"]
    readers = {}
    for name in MAP_STATES.values():
        m = states[name]
        assert m["Type"] == "Map"
        assert m["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
        assert m["MaxConcurrencyPath"] == "$.max_concurrency"
        assert m["ToleratedFailurePercentagePath"] == "$.tolerated_failure_percent"
        assert m["ItemBatcher"]["MaxItemsPerBatchPath"] == "$.batch_size"
        assert m["ResultWriter"]["Parameters"]["Bucket"] == "${VariantsBucket}"
        readers[name] = (m["ItemReader"]["Resource"], m["ItemReader"].get("ReaderConfig", {}).get("InputType"))
    assert readers == {
        MAP_STATES["listing"]: ("arn:aws:states:::s3:listObjectsV2", None),
        MAP_STATES["inventory"]: ("arn:aws:states:::s3:getObject", "MANIFEST"),
        MAP_STATES["keys"]: ("arn:aws:states:::s3:getObject", "JSON"),
    }
    listing = states[MAP_STATES["listing"]]["ItemReader"]["Parameters"]
    assert listing == {"Bucket": "${UploadsBucket}", "Prefix.$": "$.source.prefix"}


def test_placeholders_are_the_stack_buckets_and_the_item_function(synthesized: Synthesized) -> None:
    subs = _machine(synthesized)["DefinitionSubstitutions"]
    storage = synthesized.stack.node.find_child("Storage")
    backfill = synthesized.stack.backfill
    assert subs["UploadsBucket"] == {"Ref": synthesized.logical_id(storage.uploads)}
    assert subs["VariantsBucket"] == {"Ref": synthesized.logical_id(storage.variants)}
    assert subs["ItemFunctionArn"] == {"Fn::GetAtt": [synthesized.logical_id(backfill.item_function), "Arn"]}


def _targets(synthesized: Synthesized) -> dict[str, Any]:
    """The processors a backfill can target: every one with an uploads trigger."""
    return {name: p for name, p in synthesized.stack.processors.items() if p.manifest.upload_triggers()}


def _statements(synthesized: Synthesized, role: Any) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(role)
    found = []
    for policy in synthesized.of_type("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found += policy["Properties"]["PolicyDocument"]["Statement"]
    assert found
    return found


def _resources(statements: list[dict[str, Any]], action: str) -> list[Any]:
    out = []
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if action in actions:
            out += s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
    return out


@pytest.mark.parametrize("role_name", ["role", "item_role"])
def test_roles_list_only_the_uploads_bucket(synthesized: Synthesized, role_name: str) -> None:
    storage = synthesized.stack.node.find_child("Storage")
    statements = _statements(synthesized, getattr(synthesized.stack.backfill, role_name))
    assert _resources(statements, "s3:ListBucket") == [{"Fn::GetAtt": [synthesized.logical_id(storage.uploads), "Arn"]}]
    assert not any(
        a in ("s3:*", "*")
        for s in statements
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    )


def test_the_item_function_invokes_exactly_the_pipeline_functions(synthesized: Synthesized) -> None:
    backfill = synthesized.stack.backfill
    expected = sorted(
        json.dumps({"Fn::GetAtt": [synthesized.logical_id(p.function), "Arn"]}, sort_keys=True)
        for p in _targets(synthesized).values()
    )
    invoked = _resources(_statements(synthesized, backfill.item_role), "lambda:InvokeFunction")
    assert sorted(json.dumps(r, sort_keys=True) for r in invoked) == expected
    machine_invokes = _resources(_statements(synthesized, backfill.role), "lambda:InvokeFunction")
    assert machine_invokes == [{"Fn::GetAtt": [synthesized.logical_id(backfill.item_function), "Arn"]}]


def test_the_item_function_knows_every_service_route(synthesized: Synthesized) -> None:
    function = synthesized.resources[synthesized.logical_id(synthesized.stack.backfill.item_function)]
    routes_value = function["Properties"]["Environment"]["Variables"][ENV_ROUTES]
    # Function names are tokens: resolve them to their logical ids to parse the JSON.
    parts = routes_value["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else p["Ref"] for p in parts)
    routes, targets = parse_routes(text)
    services = [p.manifest for p in synthesized.stack.processors.values()]
    assert sorted(targets) == sorted(_targets(synthesized)) == sorted(m.name for m in services if m.upload_triggers())
    for name, p in _targets(synthesized).items():
        assert targets[name] == synthesized.logical_id(p.function)
    assert [r.name for r in routes if r.announce_first] == ["notify"]


def test_the_stack_outputs_the_state_machine_for_the_cli(synthesized: Synthesized) -> None:
    output = synthesized.template["Outputs"][outputs.BACKFILL_STATE_MACHINE]
    assert output["Value"] == {"Ref": synthesized.logical_id(synthesized.stack.backfill.state_machine)}
    machine = _machine(synthesized)
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"


@pytest.mark.parametrize("role_name", ["role", "item_role"])
def test_backfill_roles_have_no_managed_policy_and_no_wildcard_action(synthesized: Synthesized, role_name: str) -> None:
    role = getattr(synthesized.stack.backfill, role_name)
    assert "ManagedPolicyArns" not in synthesized.resources[synthesized.logical_id(role)]["Properties"]
    for statement in _statements(synthesized, role):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement
        if statement["Resource"] == "*":
            # only what supports no resource-level permission: X-Ray and log delivery
            assert all(a.startswith(("xray:", "logs:")) for a in actions), statement
