"""The handlers' cold import leaves the X-Ray SDK (and the API, Powertools' resolvers) unloaded; an
invocation X-Ray samples is traced through Powertools' Tracer, the others run as they are.

Each case runs in a fresh interpreter with the variables Lambda sets, since what a module
imports is only visible before anything else has imported it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgpipe.observability import traced
from imgpipe.registry import discover

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "imgpipe-test",
    "LAMBDA_TASK_ROOT": "/var/task",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.14",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    # an unreachable daemon: a sampled invocation's segment goes nowhere
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
}
SAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
UNSAMPLED = SAMPLED.replace("Sampled=1", "Sampled=0")


def run(code: str, **env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_X_AMZN", "POWERTOOLS_"))}
    proc = subprocess.run(
        [sys.executable, "-c", code], env={**base, **LAMBDA_ENV, **env}, cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


LOADED = "import json, sys; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"


@pytest.mark.parametrize("module", [m.module for m in discover(http=True)] + [m.module for m in discover()])
def test_importing_a_handler_loads_no_x_ray_sdk_nor_powertools_resolvers(module: str) -> None:
    loaded = run(f"import {module}\n{LOADED}")
    assert "aws_xray_sdk" not in loaded
    modules = run(f"import {module}, json, sys; print(json.dumps(sorted(sys.modules)))")
    assert not [m for m in modules if m.startswith("aws_lambda_powertools.event_handler")]


HANDLER = """
import json, os, sys
from imgpipe.observability import powertools
logger, tracer, metrics = powertools("services.demo")
@tracer.capture_lambda_handler
def handler(event, context):
    return {"got": event, "sdk": "aws_xray_sdk" in sys.modules}
out = [handler({"n": 1}, None)]
os.environ["_X_AMZN_TRACE_ID"] = os.environ.get("SECOND_TRACE", "")
out.append(handler({"n": 2}, None))
print(json.dumps(out))
"""


def test_an_unsampled_invocation_runs_without_the_sdk_and_a_sampled_one_loads_it() -> None:
    first, second = run(HANDLER, _X_AMZN_TRACE_ID=UNSAMPLED, SECOND_TRACE=SAMPLED)
    assert first == {"got": {"n": 1}, "sdk": False}
    assert second == {"got": {"n": 2}, "sdk": True}


def test_tracing_switched_off_never_loads_the_sdk_even_when_sampled() -> None:
    first, second = run(HANDLER, _X_AMZN_TRACE_ID=SAMPLED, SECOND_TRACE=SAMPLED, POWERTOOLS_TRACE_DISABLED="true")
    assert first == {"got": {"n": 1}, "sdk": False} and second == {"got": {"n": 2}, "sdk": False}


@pytest.mark.parametrize(
    ("header", "disabled", "expected"),
    [
        (SAMPLED, "", True),
        (UNSAMPLED, "", False),
        ("", "", False),
        ("Root=1-a;Sampled=?", "", False),
        (SAMPLED, "true", False),
        (SAMPLED, "false", True),
    ],
)
def test_traced_reads_lambdas_trace_header(header: str, disabled: str, expected: bool) -> None:
    assert traced({"_X_AMZN_TRACE_ID": header, "POWERTOOLS_TRACE_DISABLED": disabled}) is expected
