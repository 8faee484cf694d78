"""The hostile corpus through ``imgpipe local run --json``, the way a user (or a reviewer with
their own unfamiliar files) runs it: a terminal status for every file, one email each, no crash,
nothing in any DLQ (a DLQ record would show as status ``failed``)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.hostile_corpus import VARIANTS, corpus

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {"completed", "rejected", "partial"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_hostile_file_reaches_a_terminal_status_through_the_cli(tmp_path: Path) -> None:
    files = {f.name: f for f in corpus()}
    folder = tmp_path / "hostile"
    for f in files.values():
        path = folder / f.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)

    command = [sys.executable, "-W", "ignore", "-m", "imgpipe_tools.cli", "local", "run", str(folder), "--json"]
    command += ["--out", str(tmp_path / "out"), "--timeout", "400"]
    proc = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=580,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
    )
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_key = {r["key"]: r for r in reports}
    assert sorted(by_key) == sorted(files), proc.stderr[-2000:]
    statuses = {key: r["status"] for key, r in by_key.items()}
    assert {k: s for k, s in statuses.items() if s not in TERMINAL} == {}, proc.stderr[-2000:]
    assert proc.returncode == 0
    for key, r in by_key.items():
        assert r["emails"] == 1, (key, r)
        if VARIANTS not in files[key].expect:
            assert r["status"] == "rejected", (key, r)
            assert {x["reason"] for x in r["rejections"]} <= files[key].expect, (key, r["rejections"])
    print(f"\nimgpipe local run --json: {len(reports)} hostile files, {dict(Counter(statuses.values()))}")
