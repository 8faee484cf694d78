"""The backfill state machine as synthesized: valid Amazon States Language, a Distributed Map
with its limits from the execution input, and least privilege (list only the uploads bucket,
put only the backfill's own events on the bus, invoke nothing but the item function)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from imgpipe.backfill import ENV_CATALOG_TABLE, ENV_EVENT_BUS, ENV_EVENT_KEY_ARN, ENV_KEY_PREFIXES
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
        # the routes travel with the run (the CLI builds them from the manifests)
        assert m["ItemBatcher"]["BatchInput"] == {"selection.$": "$.selection", "routes.$": "$.routes"}
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


def test_the_item_function_puts_only_backfill_events_on_the_bus_and_invokes_nothing(synthesized: Synthesized) -> None:
    backfill = synthesized.stack.backfill
    statements = _statements(synthesized, backfill.item_role)
    assert _resources(statements, "lambda:InvokeFunction") == []
    [put] = [s for s in statements if s["Action"] == "events:PutEvents"]
    assert put["Condition"] == {"StringEquals": {"events:source": "imgpipe.backfill"}}
    assert "event-bus/default" in json.dumps(put["Resource"])
    catalog = synthesized.stack.node.find_child("Notification").catalog
    assert _resources(statements, "dynamodb:GetItem") == [{"Fn::GetAtt": [synthesized.logical_id(catalog), "Arn"]}]
    machine_invokes = _resources(_statements(synthesized, backfill.role), "lambda:InvokeFunction")
    assert machine_invokes == [{"Fn::GetAtt": [synthesized.logical_id(backfill.item_function), "Arn"]}]


def test_the_item_function_names_no_service(synthesized: Synthesized) -> None:
    function = synthesized.resources[synthesized.logical_id(synthesized.stack.backfill.item_function)]
    env = function["Properties"]["Environment"]["Variables"]
    catalog = synthesized.stack.node.find_child("Notification").catalog
    assert env[ENV_CATALOG_TABLE] == {"Ref": synthesized.logical_id(catalog)}
    assert (env[ENV_EVENT_BUS], env[ENV_KEY_PREFIXES]) == ("default", "[]")
    # it signs its events with the stack's event key, as the producers do: notify believes them
    (key_id,) = (
        lid for lid in synthesized.of_type("AWS::SecretsManager::Secret") if lid.startswith("NotificationEventKey")
    )
    assert env[ENV_EVENT_KEY_ARN] == {"Ref": key_id}
    statements = _statements(synthesized, synthesized.stack.backfill.item_role)
    assert _resources(statements, "secretsmanager:GetSecretValue") == [{"Ref": key_id}]
    text = json.dumps(function)
    assert not [name for name in synthesized.stack.processors if f'"{name}"' in text or f"{name}." in text]


def test_every_uploads_rule_also_takes_the_backfill_events_addressed_to_its_service(synthesized: Synthesized) -> None:
    for name, p in synthesized.stack.processors.items():
        for rule in p.rules:
            pattern = synthesized.resources[synthesized.logical_id(rule)]["Properties"]["EventPattern"]
            if "$or" not in pattern:
                assert "aws.s3" not in json.dumps(pattern) or "Object Deleted" in json.dumps(pattern), name
                continue
            s3, backfill = pattern["$or"]
            assert s3["source"] == ["aws.s3"] and backfill["source"] == ["imgpipe.backfill"]
            assert backfill["detail"]["imgpipe"] == {"targets": [name]}
            # the same bucket and key filters
            assert {k: v for k, v in backfill["detail"].items() if k != "imgpipe"} == s3["detail"]


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
