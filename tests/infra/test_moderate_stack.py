"""moderate in the stack (services=all): its role may call rekognition:DetectModerationLabels,
which has no resource-level permission, on "*" and nothing else beyond a producer's own grants,
(its cdk-nag acknowledgment is held by test_nag_and_lint like every other); no other role gets the action; its engine
defaults to Rekognition (the stand-in is for the local stack)."""

from __future__ import annotations

import json
from typing import Any

from imgpipe.registry import parse_settings
from tests.infra.synth import Synthesized

ACTION = "rekognition:DetectModerationLabels"


def _statements(s: Synthesized, service: str) -> list[dict[str, Any]]:
    function = s.resources[s.logical_id(s.stack.processors[service].function)]["Properties"]
    role = function["Role"]["Fn::GetAtt"][0]
    return [
        st
        for resource in s.resources.values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]
        for st in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_only_moderate_may_ask_rekognition_and_only_for_moderation_labels(synthesized: Synthesized) -> None:
    [statement] = [st for st in _statements(synthesized, "moderate") if "rekognition" in json.dumps(st["Action"])]
    assert statement == {"Action": ACTION, "Effect": "Allow", "Resource": "*", "Sid": "DetectModerationLabels"}
    others = [n for n in synthesized.stack.processors if n != "moderate"]
    for name in others:
        assert ACTION not in json.dumps(_statements(synthesized, name)), name


def test_moderate_runs_rekognition_when_deployed(synthesized: Synthesized) -> None:
    function = synthesized.resources[synthesized.logical_id(synthesized.stack.processors["moderate"].function)]
    deployed = json.loads(function["Properties"]["Environment"]["Variables"]["IMGPIPE_SETTINGS"])
    # what the handler runs with: the deployed values over settings.py's defaults
    settings = parse_settings(synthesized.stack.processors["moderate"].manifest, deployed)
    assert settings.engine == "rekognition" and settings.hold_at_confidence == 80.0
