"""Session fixtures for the infra tier: the app is synthesized once (it takes seconds).

Use in any tests/infra test module:
    def test_something(synthesized: Synthesized) -> None:
        synthesized.template            # the CloudFormation template, a dict
        synthesized.of_type("AWS::S3::Bucket")
        synthesized.stack.processors["resize"].role   # the constructs, for logical ids
    def test_other(template: dict) -> None: ...  # just the template
For CDK's matchers: aws_cdk.assertions.Template.from_json(template).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

# Before aws_cdk starts its node process: the machine's node 20 is supported for this use.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
# Every synth of this tier (in process or through cdk.json's command) deploys a one-page site, not
# web/dist: the infra tests never depend on the web build (infra/params.py, IMGPIPE_SITE_DIR).
os.environ.setdefault("IMGPIPE_SITE_DIR", str(Path(__file__).resolve().parent / "fixtures" / "site"))

from tests.infra.synth import Synthesized, snapshot_services, synthesize


@pytest.fixture(scope="session")
def services_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_services(tmp_path_factory.mktemp("services") / "services")


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory, services_snapshot: Path) -> Synthesized:
    # Every service, those off by default too: each one's resources are checked here (nag, least
    # privilege, alarms); test_service_selection_stack.py checks what a default deployment holds.
    return synthesize(tmp_path_factory.mktemp("cdk.out"), services_snapshot, services="all")


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.template
