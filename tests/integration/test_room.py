"""A folder is a whole room: ``services/thumbnail`` copied to ``services/roomcopy`` (its name replaced
inside its files) is a new processor, with its own settings and its own passing tests, and no
edit anywhere else. The stack side (it synthesizes, and changes nothing that exists) is in
tests/infra/test_independence.py.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

from imgpipe.registry import DEFAULT_ROOT, discover, parse_settings
from tests.service_copy import copy_service, copy_services

REPO_ROOT = DEFAULT_ROOT.parent

# not "probe": the issue's own check copies thumbnail to services/probe, and this test must pass then too
COPY = "roomcopy"


def test_a_copied_processor_is_discovered_and_passes_its_own_tests(tmp_path: Path) -> None:
    root = copy_services(DEFAULT_ROOT, tmp_path / "services")
    probe = copy_service(DEFAULT_ROOT / "thumbnail", root, COPY)

    manifests = {m.name: m for m in discover(root)}
    assert set(manifests) == {m.name for m in discover(DEFAULT_ROOT)} | {COPY}
    # its own Settings class, from its own settings.py, with thumbnail's values
    probe_settings, thumbnail_settings = parse_settings(manifests[COPY]), parse_settings(manifests["thumbnail"])
    assert type(probe_settings) is not type(thumbnail_settings)
    assert dataclasses.asdict(probe_settings) == dataclasses.asdict(thumbnail_settings)

    # Its tests, run the way `make test` runs them (pytest imports the copy as services.roomcopy,
    # which exists only in the temporary root): they pass without knowing where they live.
    copied_tests = sorted(p.name for p in (probe / "tests").glob("test_*.py"))
    assert copied_tests, "thumbnail's own tests should live in services/thumbnail/tests/"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(probe / "tests"), "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed and int(passed[1]) > 0, result.stdout[-3000:]
