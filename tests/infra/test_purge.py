"""The delete cascade's resources: its rule takes S3 "Object Deleted" on the uploads bucket only,
no other service is woken by a deletion, and its role deletes in the variants bucket and never
reads or deletes an upload (docs/purge.md)."""

from __future__ import annotations

import json
from typing import Any

from cdk_nag import AwsSolutionsChecks

from tests.infra.synth import Synthesized, branches


def _pattern(rule: dict[str, Any]) -> dict[str, Any]:
    pattern = rule["Properties"]["EventPattern"]
    return json.loads(pattern) if isinstance(pattern, str) else pattern


def _rules_of(synthesized: Synthesized, name: str) -> list[dict[str, Any]]:
    function_id = synthesized.logical_id(synthesized.stack.processors[name].function)
    return [
        r
        for r in synthesized.of_type("AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"]["Targets"])
    ]


def _statements(synthesized: Synthesized, name: str) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(synthesized.stack.processors[name].role)
    (policy,) = [
        p for p in synthesized.of_type("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_its_one_rule_takes_deletions_of_the_uploads_bucket(synthesized: Synthesized) -> None:
    uploads_id = synthesized.logical_id(synthesized.stack.node.find_child("Storage").uploads)
    (rule,) = _rules_of(synthesized, "purge")
    assert _pattern(rule) == {
        "source": ["aws.s3"],
        "detail-type": ["Object Deleted"],
        "detail": {"bucket": {"name": [{"Ref": uploads_id}]}},
    }
    target = rule["Properties"]["Targets"][0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2 and "DeadLetterConfig" in target


def test_no_other_service_is_woken_by_a_deletion(synthesized: Synthesized) -> None:
    for name in synthesized.stack.processors:
        if name == "purge":
            continue
        for rule in _rules_of(synthesized, name):
            assert all("Object Deleted" not in p["detail-type"] for p in branches(_pattern(rule))), name


def test_its_role_deletes_variants_only_and_never_touches_an_upload(synthesized: Synthesized) -> None:
    storage = synthesized.stack.node.find_child("Storage")
    uploads_id, variants_id = synthesized.logical_id(storage.uploads), synthesized.logical_id(storage.variants)
    table_id = synthesized.logical_id(synthesized.stack.node.find_child("Notification").catalog)
    statements = _statements(synthesized, "purge")
    assert uploads_id not in json.dumps(statements), "the purge role names the uploads bucket"

    def granted(action: str) -> list[Any]:
        return [r for s in statements if action in _listify(s["Action"]) for r in _listify(s["Resource"])]

    assert granted("s3:DeleteObject") == [{"Fn::Join": ["", [{"Fn::GetAtt": [variants_id, "Arn"]}, "/*"]]}]
    assert granted("s3:ListBucket") == [{"Fn::GetAtt": [variants_id, "Arn"]}]
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObjectVersion", "sns:Publish", "dynamodb:DeleteItem"):
        assert granted(action) == [], action
    for action in ("dynamodb:Query", "dynamodb:UpdateItem"):
        assert granted(action) == [{"Fn::GetAtt": [table_id, "Arn"]}], action
    actions = {a for s in statements for a in _listify(s["Action"])}
    assert not any(a.endswith("*") for a in actions), actions


def test_no_other_role_may_delete_a_variant(synthesized: Synthesized) -> None:
    for name in synthesized.stack.processors:
        deletes = [s for s in _statements(synthesized, name) if "s3:DeleteObject" in _listify(s["Action"])]
        assert bool(deletes) == (name == "purge"), name


def test_it_gets_the_stack_names_it_needs(synthesized: Synthesized) -> None:
    function_id = synthesized.logical_id(synthesized.stack.processors["purge"].function)
    env = synthesized.resources[function_id]["Properties"]["Environment"]["Variables"]
    assert {"IMGPIPE_VARIANTS_BUCKET", "IMGPIPE_CATALOG_TABLE"} <= set(env)
    # it lists the producers' folders instead: adding a processor changes nothing of the purge
    assert "IMGPIPE_TOPIC_ARN" not in env and "IMGPIPE_EXPECTED_PRODUCERS" not in env


def test_cdk_nag_finds_nothing_about_it(synthesized: Synthesized) -> None:
    result = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.stack.processors["purge"])
    assert result.success, [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in result.violations]
