"""Synthesizing the imgpipe app for tests: no bundling, no AWS, one call per scenario."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.app import build_app, cdk_json_context
from infra.components.bundling import SHARED_PACKAGE, tree_hash
from infra.constants import CTX_SERVICES_ROOT
from infra.stack import ImgpipeStack

REPO_SERVICES = Path(__file__).resolve().parents[2] / "services"


@dataclass(frozen=True)
class Synthesized:
    app: cdk.App
    stack: ImgpipeStack
    template: dict[str, Any]
    outdir: Path
    #: the imgpipe package the layer was built from (others may edit it while tests run)
    shared_package_hash: str

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r["Type"] == cfn_type}

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2 construct's main resource (or of an L1)."""
        element = getattr(construct.node, "default_child", None) or construct
        return self.stack.get_logical_id(element)


def snapshot_services(target: Path, source: Path = REPO_SERVICES) -> Path:
    """A copy of services/ without caches: every synth of a session sees the same folders even
    while someone edits the real ones."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    return target


def synthesize(outdir: Path, services_root: Path, **context: Any) -> Synthesized:
    """Synthesize with cdk.json's context (feature flags), bundling skipped for every stack
    (asset hashes are computed from the sources, so they are still the real ones)."""
    ctx: dict[str, Any] = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], CTX_SERVICES_ROOT: str(services_root)}
    ctx.update(context)
    for attempt in range(3):
        shared = tree_hash(SHARED_PACKAGE)
        app, stack = build_app(ctx, outdir=str(outdir / str(attempt)))
        template = app.synth().get_stack_by_name(stack.stack_name).template
        if tree_hash(SHARED_PACKAGE) == shared:  # nobody saved a file in imgpipe/ meanwhile
            break
    return Synthesized(app, stack, json.loads(json.dumps(template)), outdir, shared)


def context_json(value: Mapping[str, Any] | list[Any]) -> str:
    """Context values as the CLI passes them (-c key=value gives a string)."""
    return json.dumps(value)


def branches(pattern: dict[str, Any]) -> list[dict[str, Any]]:
    """A rule pattern's alternatives: an uploads rule is an ``$or`` of S3's events and the backfill's
    (imgpipe.manifest.rule_pattern); every other rule is one pattern."""
    return list(pattern["$or"]) if "$or" in pattern else [pattern]
