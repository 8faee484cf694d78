"""The browser tier: headless Chromium (an installed one, see chromium.py) driven by Playwright
(pytest-playwright's ``browser`` / ``new_context`` / ``page`` fixtures) against one local stack
shared by every test of the tier, started as users start it: ``imgpipe local up`` in a process of its
own (the handlers in its worker processes, moto in processes of their own): the web app at ``/``,
the API at ``/api``, the variants at ``/v``, moto's Cognito and S3 on their own port. The tests
reach it only as a user or an admin would: the page, HTTP, and Cognito's admin API for test users.

Every page a test opens records its console errors and uncaught exceptions; the test fails on
any (``Web.assert_clean``). Screenshots go to ``out/browser/`` (gitignored).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from imgpipe_tools.local.frontdoor import SITE_DIR, Credentials, create_user, sign_in
from tests.browser import chromium
from tests.e2e.conftest import interruptible

REPO = Path(__file__).resolve().parents[2]
#: where the browser tests leave what a person looks at (screenshots)
OUTPUT = REPO / "out" / "browser"
AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "Browser-test-2026!"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    try:
        executable = chromium.ensure()
    except chromium.NoChromium as exc:
        pytest.fail(str(exc))
    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    # headless unless --headed (pytest-playwright's default)
    return {**browser_type_launch_args, "executable_path": executable, "args": args}


#: what `imgpipe local up` prints once it serves: the emulator's endpoint, then the front door's URL
_READY = re.compile(r"ready on (http://127\.0\.0\.1:\d+)")
_FRONT_DOOR = re.compile(r"^\s+front door:\s+(http://127\.0\.0\.1:\d+)")
# the demo sign-in it prints (a new password at every start) and the pool it is in
_POOL = re.compile(r"sign in:\s+(\S+) / (\S+)\s+\(user pool (\S+), app client (\S+)\)")
START_TIMEOUT_S = 120


@dataclass
class LocalUp:
    """``imgpipe local up`` running in a process of its own, seen from outside as a user sees it:
    the front door's URL, what its /config.json says, the demo sign-in it prints."""

    url: str
    endpoint: str
    pool_id: str
    client_id: str
    region: str
    demo: Credentials
    output: list[str] = field(default_factory=list)

    def _cognito(self) -> Any:
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_user(self, email: str, password: str) -> str:
        """As an admin creates one (Cognito's admin API); returns its sub."""
        return create_user(self._cognito(), self.pool_id, email, password)

    def sign_in(self, email: str, password: str) -> dict[str, str]:
        return sign_in(self._cognito(), self.client_id, email, password)


def _start_local_up(folder: Path) -> tuple[subprocess.Popen[str], LocalUp]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "imgpipe_tools.cli", "local", "up", "--outbox", "outbox"],
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=interruptible,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    endpoint = url = ""
    pool: tuple[str, str, str, str] | None = None
    deadline = time.monotonic() + START_TIMEOUT_S
    while pool is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        endpoint = endpoint or next(iter(_READY.findall(line)), "")
        url = url or next(iter(_FRONT_DOOR.findall(line)), "")
        pool = next(iter(_POOL.findall(line)), None)
    if not (endpoint and url and pool):
        _stop(proc)
        pytest.fail("`imgpipe local up` did not start:\n" + "\n".join(lines))

    def drain() -> None:  # a full pipe would block the stack at its next line
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())

    threading.Thread(target=drain, daemon=True).start()
    region = requests.get(f"{url}/config.json", timeout=10).json()["region"]
    email, password, pool_id, client_id = pool
    demo = Credentials(email, password)
    return proc, LocalUp(url, endpoint, pool_id=pool_id, client_id=client_id, region=region, demo=demo, output=lines)


def _stop(proc: subprocess.Popen[str]) -> int:
    """Ctrl-C, as a user stops it; killed if it does not stop."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


@pytest.fixture(scope="session")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalUp]:
    if not (SITE_DIR / "index.html").is_file():
        pytest.fail("web/dist is not built: run `make web` (make test builds it first)")
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make web` (npm ci in web/)")
    proc, up = _start_local_up(tmp_path_factory.mktemp("local-up"))
    try:
        yield up
    finally:
        code = _stop(proc)
        # what the stack printed (its handlers' tracebacks among it), for a failure seen only in a
        # whole run
        OUTPUT.mkdir(parents=True, exist_ok=True)
        (OUTPUT / "local-up.log").write_text("\n".join(up.output) + "\n")
    assert code == 0, "`imgpipe local up` did not stop cleanly:\n" + "\n".join(up.output[-40:])


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], door: LocalUp) -> dict[str, Any]:
    return {**browser_context_args, "base_url": door.url, "viewport": DESKTOP}


@dataclass
class Web:
    """One browser tab on the page, with what it logged."""

    page: Page
    errors: list[str] = field(default_factory=list)
    #: console errors a step expects (an id that answers 404 on purpose), matched on the URL
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        where = msg.location.get("url", "") if msg.location else ""
        if any(p.search(where) for p in self.expected):
            return
        self.errors.append(f"{msg.text} ({where})")

    def assert_clean(self) -> None:
        assert self.errors == [], "the browser console logged errors:\n" + "\n".join(self.errors)

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.page.goto("/")
        expect(self.page.get_by_role("heading", name="Sign in")).to_be_visible()
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Upload photos")).to_be_visible()

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now. The script is
        served from the page's own origin (a routed URL), so the page's CSP stays as strict."""
        self.page.route("**/__axe__.js", lambda route: route.fulfill(path=str(AXE), content_type="text/javascript"))
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(url="/__axe__.js")
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [
            {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    def horizontal_overflow(self) -> int:
        """How many CSS pixels the page is wider than the viewport (0: no horizontal scroll)."""
        return int(self.page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


@pytest.fixture
def open_web(new_context: Callable[..., BrowserContext], door: LocalUp) -> Iterator[Callable[..., Web]]:
    """A fresh browser profile (its own session storage) per call: one per user. An error in a
    page's console is reported with what the stack printed last, its handlers' tracebacks among it."""
    opened: list[Web] = []

    def open_(viewport: dict[str, int] | None = None) -> Web:
        web = Web(new_context().new_page())
        if viewport:
            web.page.set_viewport_size(viewport)
        opened.append(web)
        return web

    yield open_
    for web in opened:
        try:
            web.assert_clean()
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n--- the stack's last lines:\n" + "\n".join(door.output[-80:])) from None


@pytest.fixture
def web(open_web: Callable[..., Web]) -> Web:
    return open_web()


def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=True)
    return path
