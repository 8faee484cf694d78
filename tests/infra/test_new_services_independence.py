"""Each of the services added after the first four arrives as one folder and changes nothing that
exists: synthesized with and without its folder (every service deployed), every other resource
keeps its id and its properties, but for what the independence test allows
(tests/infra/test_independence.py: notify's expected producers and pipeline-rule sources), what the
deployment-level facts about outputs decide where the service changes one (watermark's srcset,
a facts service's audience), and, for a service that may hold uploads, the gate it adds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from imgpipe.manifest import load_manifest
from tests.infra.synth import Synthesized, synthesize
from tests.infra.test_independence import (
    _canonical,
    _deployment_fact_ids,
    _notify_function_id,
    _notify_pipeline_rule_id,
    _without_deployment_facts,
    _without_expected_producers,
    _without_gate,
    _without_sources,
)

NEW_SERVICES = ["describe", "moderate", "watermark", "webhook"]


@pytest.mark.parametrize("service", NEW_SERVICES)
def test_adding_the_folder_changes_no_existing_resource(
    service: str, synthesized: Synthesized, services_snapshot: Path, tmp_path: Path
) -> None:
    root = tmp_path / "services"
    shutil.copytree(services_snapshot, root, ignore=shutil.ignore_patterns(service))
    with_it = synthesized
    for _ in range(3):
        without = synthesize(tmp_path / "cdk.out", root, services="all")
        if without.shared_package_hash == with_it.shared_package_hash:
            break
        with_it = synthesize(tmp_path / "cdk.out-with", services_snapshot, services="all")
    before, after = without.resources, with_it.resources
    outputs = load_manifest(services_snapshot / service).outputs
    if outputs is not None and outputs.holds:
        # a service that may hold uploads gates the stack's outputs (imgpipe/outputs.py): the flag
        # on the producers and notify, and the bucket policy's deny; nothing else
        before = {k: _without_gate(r) for k, r in before.items()}
        after = {k: _without_gate(r) for k, r in after.items()}
    assert sorted(set(before) - set(after)) == []
    notify, rule = _notify_function_id(without), _notify_pipeline_rule_id(without)
    facts = _deployment_fact_ids(without)
    allowed = {notify, rule, *facts}
    changed = [k for k, r in before.items() if k not in allowed and _canonical(r) != _canonical(after[k])]
    assert changed == [], f"adding {service} changed {changed}"
    for lid in facts:
        assert _without_deployment_facts(before[lid]) == _without_deployment_facts(after[lid]), lid
    assert _without_expected_producers(before[notify]) == _without_expected_producers(after[notify])
    assert _without_sources(before[rule]) == _without_sources(after[rule])
    added = sorted(set(after) - set(before))
    # its own resources, named after it (the webhook's signing secret is made for the service that needs it)
    assert added and all(k.startswith(service) or k.startswith("NotificationWebhookSecret") for k in added), added
