"""The webhook service in the stack: adding it changes no other service's resources (notify's
completion-events grant is notify's own need, there with or without webhook), it gets the
signing secret's ARN and read access to it and nothing else, and the secret exists only in a
stack with a service that declares it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from imgpipe.events import COMPLETION_DETAIL_TYPES, COMPLETION_SOURCE
from tests.infra.synth import Synthesized, branches, synthesize

WEBHOOK = "webhook"
#: every service, whatever the deployment's default selection (an unknown context key is ignored)
ALL = {"services": "all"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> tuple[Synthesized, Synthesized]:
    """(without, with) the webhook folder, from the same imgpipe/ (retried if it changed between)."""
    without_root = tmp_path_factory.mktemp("without-webhook") / "services"
    shutil.copytree(services_snapshot, without_root, ignore=shutil.ignore_patterns(WEBHOOK))
    for _ in range(3):
        without = synthesize(tmp_path_factory.mktemp("cdk.out-without"), without_root, **ALL)
        with_ = synthesize(tmp_path_factory.mktemp("cdk.out-with"), services_snapshot, **ALL)
        if without.shared_package_hash == with_.shared_package_hash:
            break
    return without, with_


def _canonical(resource: dict[str, Any]) -> str:
    return json.dumps(resource, sort_keys=True)


def _statements(s: Synthesized, service: str) -> list[dict[str, Any]]:
    role = s.stack.processors[service].role
    policy = s.resources[s.logical_id(role.node.find_child("DefaultPolicy"))]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_adding_the_webhook_changes_no_other_resource(pair: tuple[Synthesized, Synthesized]) -> None:
    without, with_ = pair
    missing = sorted(set(without.resources) - set(with_.resources))
    assert missing == []
    (dashboard,) = with_.of_type("AWS::CloudWatch::Dashboard")
    changed = [
        lid
        for lid, resource in without.resources.items()
        if lid != dashboard and _canonical(resource) != _canonical(with_.resources[lid])
    ]
    assert changed == [], f"changed by adding the webhook: {changed}"
    added = sorted(set(with_.resources) - set(without.resources))
    assert added and all(lid.startswith((WEBHOOK, "NotificationWebhookSecret")) for lid in added), added
    # the pipeline events' key (every stack has producers) and the transform URLs' key (the
    # transform service is on by default) are in both; the webhook's only with it
    both = ("NotificationEventKey", "NotificationTransformSecret")
    secrets = {lid for lid in with_.of_type("AWS::SecretsManager::Secret") if not lid.startswith(both)}
    (secret,) = secrets
    assert secret.startswith("NotificationWebhookSecret")
    assert [lid for lid in without.of_type("AWS::SecretsManager::Secret")] == [
        lid for lid in with_.of_type("AWS::SecretsManager::Secret") if lid.startswith(both)
    ]


def test_notify_may_put_only_the_completion_events_source(pair: tuple[Synthesized, Synthesized]) -> None:
    for s in pair:
        [put] = [st for st in _statements(s, "notify") if st.get("Sid") == "PutCompletionEvents"]
        assert put["Action"] == "events:PutEvents"
        assert put["Condition"] == {"StringEquals": {"events:source": COMPLETION_SOURCE}}


def test_the_webhook_reads_its_secret_and_nothing_else(pair: tuple[Synthesized, Synthesized]) -> None:
    _, s = pair
    statements = _statements(s, WEBHOOK)
    (secret_id,) = (
        lid for lid in s.of_type("AWS::SecretsManager::Secret") if lid.startswith("NotificationWebhookSecret")
    )
    [read] = [st for st in statements if st.get("Sid") == "ReadWebhookSecret"]
    assert read["Action"] == "secretsmanager:GetSecretValue" and read["Resource"] == {"Ref": secret_id}
    actions = {a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}
    assert not any(a.startswith(("s3:", "events:", "dynamodb:", "sns:")) for a in actions), actions
    function = s.resources[s.logical_id(s.stack.processors[WEBHOOK].function)]["Properties"]
    env = function["Environment"]["Variables"]
    # the ARN, never the value (a Ref to a secret is its ARN)
    assert env["IMGPIPE_WEBHOOK_SIGNING_KEY_ARN"] == {"Ref": secret_id}
    assert not any("SecretString" in json.dumps(v) or "resolve:secretsmanager" in json.dumps(v) for v in env.values())


def test_the_webhook_rule_matches_the_completion_events_of_this_stack(pair: tuple[Synthesized, Synthesized]) -> None:
    _, s = pair
    [rule] = s.stack.processors[WEBHOOK].rules
    pattern = s.resources[s.logical_id(rule)]["Properties"]["EventPattern"]
    assert pattern["source"] == [COMPLETION_SOURCE]
    assert pattern["detail-type"] == list(COMPLETION_DETAIL_TYPES)
    uploads = s.logical_id(s.stack.node.find_child("Storage").uploads)
    assert pattern["detail"] == {"bucket": [{"Ref": uploads}]}
    # ... and notify's own rules never match them: no loop
    for notify_rule in s.stack.processors["notify"].rules:
        for notify_pattern in branches(s.resources[s.logical_id(notify_rule)]["Properties"]["EventPattern"]):
            assert not set(notify_pattern["detail-type"]) & set(COMPLETION_DETAIL_TYPES)


def test_only_the_producers_and_notify_read_the_event_key(pair: tuple[Synthesized, Synthesized]) -> None:
    """Whoever can read the key can sign pipeline events notify believes (docs/decisions.md)."""
    _, s = pair
    (key_id,) = (lid for lid in s.of_type("AWS::SecretsManager::Secret") if lid.startswith("NotificationEventKey"))
    readers = set()
    for name in s.stack.processors:
        for st in _statements(s, name):
            resources = st.get("Resource") if isinstance(st.get("Resource"), list) else [st.get("Resource")]
            if {"Ref": key_id} in resources:
                assert st["Action"] == "secretsmanager:GetSecretValue", (name, st)
                readers.add(name)
    producers = {name for name, p in s.stack.processors.items() if p.manifest.produces_variants}
    assert readers == producers | {"notify"}, readers
