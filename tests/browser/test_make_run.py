"""`make run`'s promise: after the samples it prints the web app's address and the demo sign-in,
and keeps serving it until Ctrl-C (at a terminal, or with --serve); without one it exits."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.e2e.conftest import SAMPLES, interruptible

REPO = Path(__file__).resolve().parents[2]
PAGE_LINE = re.compile(r"^The web app:\s+(http://127\.0\.0\.1:\d+/)$")


def test_local_run_serve_prints_the_page_and_the_demo_sign_in_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "imgpipe_tools.cli", "local", "run", str(SAMPLES / "coffee.jpg"), "--serve"]
    command += ["--out", str(tmp_path / "out"), "--outbox", str(tmp_path / "outbox")]
    proc = subprocess.Popen(
        command,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)},
        preexec_fn=interruptible,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 180
        url = None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            match = PAGE_LINE.match(line.rstrip())
            url = match.group(1) if match else None
        assert url, "no page URL printed:\n" + "\n".join(lines)
        assert re.match(r"^\s+sign in:\s+demo@example\.com / \S+$", proc.stdout.readline().rstrip())
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and "<title>imgpipe</title>" in page.text
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
