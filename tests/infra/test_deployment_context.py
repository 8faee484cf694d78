"""Deployment parameters (CDK context) reach the right resources; bad values fail synth early."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from imgpipe.manifest import parse_manifest
from imgpipe.registry import discover
from imgpipe.settings import SettingsError
from infra.app import build_app, cdk_json_context
from infra.params import ContextError, from_context
from tests.infra.synth import REPO_SERVICES, Synthesized, branches, context_json, synthesize


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("cdk.out-configured"),
        services_snapshot,
        notify_email="uploader@example.com",
        ops_email="oncall@example.com",
        # as `-c key_prefixes=...` passes it; users/ is where the upload API puts uploads
        key_prefixes="incoming/, photos/, users/",
        # avif_quality: a setting only settings.py states (resize's manifest lists none)
        settings=context_json({"resize": {"widths": [100, 200], "avif_quality": 50}}),
        cors_origins=context_json(["https://app.example.com"]),
        removal="destroy",
        services="all",  # as the shared synth: the same rules, narrowed
    )


def _env(s: Synthesized, name: str) -> dict[str, Any]:
    return s.resources[s.logical_id(s.stack.processors[name].function)]["Properties"]["Environment"]["Variables"]


def test_settings_override_reaches_only_its_processor(configured: Synthesized, synthesized: Synthesized) -> None:
    overridden = json.loads(_env(configured, "resize")["IMGPIPE_SETTINGS"])
    default = json.loads(_env(synthesized, "resize")["IMGPIPE_SETTINGS"])
    assert default.get("widths") != [100, 200]
    assert overridden == {**default, "widths": [100, 200], "avif_quality": 50}
    assert _env(configured, "thumbnail")["IMGPIPE_SETTINGS"] == _env(synthesized, "thumbnail")["IMGPIPE_SETTINGS"]


def test_key_prefixes_narrow_uploads_rules_and_notify_expectations(configured: Synthesized) -> None:
    for name, processor in configured.stack.processors.items():
        for rule in processor.rules:
            for pattern in branches(configured.resources[configured.logical_id(rule)]["Properties"]["EventPattern"]):
                # S3's uploads and the backfill's events for them alike
                if pattern["detail-type"] == ["Object Created"]:
                    assert pattern["detail"]["object"] == {
                        "key": [{"prefix": "incoming/"}, {"prefix": "photos/"}, {"prefix": "users/"}]
                    }, name
                else:
                    # pipeline events and deletions are not narrowed by key
                    assert "object" not in pattern.get("detail", {}), name
    spec = json.loads(_env(configured, "notify")["IMGPIPE_EXPECTED_PRODUCERS"])
    assert spec and all(t["prefixes"] == ["incoming/", "photos/", "users/"] for e in spec for t in e["triggers"])


def test_narrowing_does_not_rename_rules(configured: Synthesized, synthesized: Synthesized) -> None:
    rule_ids = {k for k, r in synthesized.resources.items() if r["Type"] == "AWS::Events::Rule"}
    assert rule_ids == {k for k, r in configured.resources.items() if r["Type"] == "AWS::Events::Rule"}


def test_email_subscription_cors_and_removal(configured: Synthesized) -> None:
    subscriptions = {
        s["Properties"]["Endpoint"]: s["Properties"] for s in configured.of_type("AWS::SNS::Subscription").values()
    }
    topic_id = configured.logical_id(configured.stack.node.find_child("Notification").topic)
    ops_id = configured.logical_id(configured.stack.node.find_child("Monitoring").ops_topic)
    assert set(subscriptions) == {"uploader@example.com", "oncall@example.com"}
    assert subscriptions["uploader@example.com"]["Protocol"] == "email"
    assert subscriptions["uploader@example.com"]["TopicArn"] == {"Ref": topic_id}
    assert subscriptions["oncall@example.com"]["Protocol"] == "email"
    assert subscriptions["oncall@example.com"]["TopicArn"] == {"Ref": ops_id}
    uploads = configured.resources[configured.logical_id(configured.stack.node.find_child("Storage").uploads)]
    assert uploads["Properties"]["CorsConfiguration"]["CorsRules"][0]["AllowedOrigins"] == ["https://app.example.com"]
    assert uploads["DeletionPolicy"] == "Delete"
    (table,) = configured.of_type("AWS::DynamoDB::Table").values()
    assert table["DeletionPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"settings": '{"resise": {"widths": [1]}}'}, "no service named 'resise'"),
        ({"settings": '{"resize": {"width": [1]}}'}, "resize has no setting 'width'"),
        ({"settings": "{not json"}, "is not valid JSON"),
        ({"settings": '{"resize": 3}'}, "must be an object"),
        ({"notify_email": "nobody"}, "notify_email': must be an email address"),
        ({"ops_email": "nobody"}, "ops_email': must be an email address"),
        ({"removal": "keep"}, "must be 'retain' or 'destroy'"),
        ({"key_prefixes": '["a/", ""]'}, "list of non-empty strings"),
    ],
)
def test_bad_context_names_the_key(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ContextError, match=message):
        deployment = from_context(context.get, environ={})
        deployment.check_against(discover(REPO_SERVICES))


def test_key_prefixes_cannot_narrow_a_suffix_trigger() -> None:
    suffixed = parse_manifest(
        Path("services/pngonly"),
        {"memory_mb": 128, "timeout_s": 3, "triggers": [{"source": "uploads", "suffixes": [".png"]}]},
    )
    deployment = from_context({"key_prefixes": "a/"}.get, environ={})
    with pytest.raises(ContextError, match="pngonly's suffix trigger"):
        deployment.check_against([suffixed])


def test_services_root_from_context_then_environment(tmp_path: Path) -> None:
    assert from_context({"services_root": str(tmp_path)}.get, environ={}).services_root == tmp_path
    assert from_context({}.get, environ={"IMGPIPE_SERVICES_ROOT": "/x"}).services_root == Path("/x")
    assert from_context({}.get, environ={}).services_root == REPO_SERVICES


def test_an_oversized_environment_fails_synth_naming_the_folder(tmp_path: Path, services_snapshot: Path) -> None:
    root = tmp_path / "services"
    shutil.copytree(services_snapshot, root)
    (root / "bloated").mkdir()
    (root / "bloated" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    big = ", ".join(f'"{i:04d}-{"x" * 40}"' for i in range(100))
    (root / "bloated" / "manifest.toml").write_text(
        f'memory_mb = 128\ntimeout_s = 3\n[[triggers]]\nsource = "uploads"\n[settings]\nlabels = [{big}]\n'
    )
    (root / "bloated" / "settings.py").write_text(
        "from dataclasses import dataclass\n\nfrom imgpipe.settings import setting\n\n\n"
        "@dataclass(frozen=True)\nclass Settings:\n    labels: tuple[str, ...] = setting(())\n"
    )
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "services_root": str(root)}
    with pytest.raises(Exception, match=r"services/bloated: the function's environment would be about \d+ bytes"):
        build_app(context, outdir=str(tmp_path / "out"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"thumbnail": {"crop": "centre"}},
            "settings of thumbnail: 'crop' must be one of 'content', 'center'; got 'centre'",
        ),
        ({"resize": {"widths": "320"}}, "settings of resize: 'widths' must be a list of integers; got '320'"),
        ({"resize": {"avif_quality": 101}}, "settings of resize: 'avif_quality' must be between 0 and 100; got 101"),
    ],
)
def test_a_bad_setting_value_fails_synth_naming_the_service_the_setting_and_what_is_allowed(
    tmp_path: Path, services_snapshot: Path, overrides: dict[str, Any], message: str
) -> None:
    context = {
        **cdk_json_context(),
        "aws:cdk:bundling-stacks": [],
        "services_root": str(services_snapshot),
        "settings": context_json(overrides),  # as `make synth SETTINGS=...` passes it
    }
    with pytest.raises(SettingsError, match=re.escape(message)):
        build_app(context, outdir=str(tmp_path / "out"))
