"""The browser tier: headless Chromium (an installed one, see chromium.py) driven by Playwright
(pytest-playwright's ``browser`` / ``new_context`` / ``page`` fixtures) against one local stack,
``imgpipe local up``'s, shared by every test of the tier: the web app at ``/``, the API at
``/api``, the variants at ``/v``, moto's Cognito and S3 on their own port.

Every page a test opens records its console errors and uncaught exceptions; the test fails on
any (``Web.assert_clean``). Screenshots go to ``out/browser/`` (gitignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from imgpipe_tools.local import LocalStack
from imgpipe_tools.local.frontdoor import SITE_DIR, LocalFrontDoor
from tests.browser import chromium

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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    if not (SITE_DIR / "index.html").is_file():
        pytest.fail("web/dist is not built: run `make web` (make test builds it first)")
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make web` (npm ci in web/)")
    with LocalStack.start(outbox=tmp_path_factory.mktemp("outbox"), retry_delay_s=0.05) as s:
        assert s.frontdoor is not None
        yield s


@pytest.fixture(scope="session")
def door(stack: LocalStack) -> LocalFrontDoor:
    assert stack.frontdoor is not None
    return stack.frontdoor


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], door: LocalFrontDoor) -> dict[str, Any]:
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
def open_web(new_context: Callable[..., BrowserContext]) -> Iterator[Callable[..., Web]]:
    """A fresh browser profile (its own session storage) per call: one per user."""
    opened: list[Web] = []

    def open_(viewport: dict[str, int] | None = None) -> Web:
        web = Web(new_context().new_page())
        if viewport:
            web.page.set_viewport_size(viewport)
        opened.append(web)
        return web

    yield open_
    for web in opened:
        web.assert_clean()


@pytest.fixture
def web(open_web: Callable[..., Web]) -> Web:
    return open_web()


def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / name
    page.screenshot(path=str(path), full_page=True)
    return path
