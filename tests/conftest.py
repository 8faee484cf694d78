"""Shared test setup: never talk to a real AWS account, whatever the machine's environment."""

from __future__ import annotations

import os

import pytest

# Set before any boto3 client exists: dummy credentials, one region, no real endpoint.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "imgpipe",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tier last. Its local stack lives for the session (pytest-playwright's browser
    fixtures are session-scoped), and a local stack owns process-wide state (AWS_ENDPOINT_URL, the
    handlers' cached clients): an e2e test that started its own stack while it lived would find the
    browser stack's endpoint and share its emulator. pytest groups tests by session-scoped
    parameters (playwright's browser name), which would otherwise interleave the tiers."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/browser/"))
