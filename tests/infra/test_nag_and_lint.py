"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_sqs as sqs
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint_all
from constructs import IConstruct

import infra.components.nag as nag
from infra.app import build_app, cdk_json_context
from infra.constants import CTX_SERVICES_ROOT
from tests.infra.synth import Synthesized


def _context(services_root: Path) -> dict[str, object]:
    return {**cdk_json_context(), "aws:cdk:bundling-stacks": [], CTX_SERVICES_ROOT: str(services_root)}


def test_nag_finds_nothing_unacknowledged(synthesized: Synthesized) -> None:
    # The session synth would already have raised; this names the findings if it ever fails.
    result = AwsSolutionsChecks(synthesized.app).validate_scope(synthesized.app)
    assert result.success, [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in result.violations]


def test_synth_fails_on_an_unacknowledged_finding(tmp_path: Path, services_snapshot: Path) -> None:
    app, stack = build_app(_context(services_snapshot), outdir=str(tmp_path))
    sqs.Queue(stack, "PlainQueue", encryption=sqs.QueueEncryption.UNENCRYPTED)  # no SSL, no DLQ, no encryption
    with pytest.raises(Exception, match="ValidationFailed") as failure:
        app.synth()
    message = str(failure.value)
    for rule in ("AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4"):
        assert rule in message
    assert "Imgpipe/PlainQueue/Resource" in message
    assert "Imgpipe/resize" not in message  # the real resources stay clean
    assert (tmp_path / "validation-report.json").is_file()


def test_every_acknowledgment_is_needed_and_names_its_resource(
    monkeypatch: pytest.MonkeyPatch, services_snapshot: Path
) -> None:
    """Without the acknowledgments, the findings are exactly the acknowledged ones: none is
    stale, none too broad, and each reason names the construct it is about."""
    recorded: list[tuple[str, str, str]] = []

    def record(scope: IConstruct, finding: str, reason: str) -> None:
        recorded.append((scope.node.path, finding, reason))

    monkeypatch.setattr(nag, "acknowledge", record)
    app, _ = build_app(_context(services_snapshot))
    result = AwsSolutionsChecks(app).validate_scope(app)
    findings = {(resource.construct_path, v.rule_name) for v in result.violations for resource in v.violating_resources}
    acknowledged = {(path, finding) for path, finding, _ in recorded}
    assert findings and acknowledged
    # A finding is reported on the L1 resource under (or at) the acknowledged construct.
    for path, rule in findings:
        assert any(rule == finding and path.startswith(ack_path + "/") for ack_path, finding in acknowledged), (
            path,
            rule,
        )
    for ack_path, finding in acknowledged:
        assert any(rule == finding and path.startswith(ack_path + "/") for path, rule in findings), (ack_path, finding)
    for path, _finding, reason in recorded:
        assert path.split("/")[1] in reason or path in reason, (path, reason)
        assert len(reason) > 40


def test_cfn_lint_reports_no_errors(synthesized: Synthesized) -> None:
    matches = lint_all(json.dumps(synthesized.template))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
