"""The command cdk.json gives the CDK CLI works as the CLI runs it (from the repo root, with
its context and output folder in the environment), without the CLI itself."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

from imgpipe.registry import discover
from infra.app import CDK_JSON, cdk_json_context

REPO = CDK_JSON.parent


def test_cdk_json_app_synthesizes(tmp_path: Path, services_snapshot: Path) -> None:
    command = shlex.split(json.loads(CDK_JSON.read_text())["app"])
    # As a module: run as a script, infra/constructs would shadow the constructs library.
    assert command[1:] == ["-m", "infra.app"]
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "services_root": str(services_snapshot)}
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    env.pop("PYTHONPATH", None)  # the CLI does not set it either
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "Imgpipe.template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    # the event services (purge included), the HTTP services (the upload API), the edge services
    # (on-demand transforms), the backfill item function and CDK's handler of the web app's
    # BucketDeployment (infra/components/site.py)
    # (a default deployment: the services enabled by default, imgpipe.registry.select)
    deployed = [
        *discover(services_snapshot, services=None),
        *discover(services_snapshot, http=True, services=None),
        *discover(services_snapshot, edge=True, services=None),
    ]
    assert len(functions) == len(deployed) + 2
