"""CDK entry point: ``python -m infra.app`` (what cdk.json runs).

Run it as a module from the repository root: run as a script, ``infra/`` would come first on
sys.path and ``infra/constructs`` would shadow the ``constructs`` library.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.params import from_context
from infra.stack import ImgpipeStack

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """The context cdk.json gives the CLI (feature flags...), for apps built outside the CLI (tests)."""
    return dict(json.loads(CDK_JSON.read_text(encoding="utf-8")).get("context", {}))


def build_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[cdk.App, ImgpipeStack]:
    """The app with its one stack and cdk-nag's AwsSolutions checks: synth fails on any finding
    that is not acknowledged (each acknowledgment sits next to its resource)."""
    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    deployment = from_context(app.node.try_get_context)
    stack = ImgpipeStack(
        app,
        deployment.stack_name,
        deployment=deployment,
        description="imgpipe: S3 uploads -> EventBridge -> independent Lambda image processors",
        # Environment-agnostic unless the CLI knows the target account (cdk deploy with a profile).
        env=cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")),
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack


def main() -> None:
    try:
        app, _ = build_app()
    except ValueError as exc:
        # A bad manifest, setting or context value (ManifestError, SettingsError, ContextError), or
        # no web app to deploy (SiteNotBuilt: "build the web app first: make web"; the app is read
        # from web/dist, or the site_dir context): the message names what to fix and how.
        raise SystemExit(f"imgpipe: {exc}") from None
    app.synth()


if __name__ == "__main__":
    main()
