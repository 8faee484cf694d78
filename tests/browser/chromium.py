"""Finds the Chromium the browser tests drive, and installs Debian's when there is none.

Playwright cannot download its own browser build here (no network but the package registries),
so the tests launch an installed Chromium or Chrome through ``executable_path``. Looked for, in
order: ``$IMGPIPE_CHROMIUM``; ``chromium``, ``chromium-browser``, ``google-chrome`` on the PATH;
the usual macOS and Windows install places; a browser ``playwright install chromium`` fetched.

``python -m tests.browser.chromium`` (what ``make test`` runs first) prints the one found, or, as
root on a Debian-like system, ``apt-get install -y chromium`` and prints that; otherwise it fails
with what to do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ENV = "IMGPIPE_CHROMIUM"
_ON_PATH = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_INSTALLED_ELSEWHERE = (
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files (x86)\Google\Chrome\Application\chrome.exe",
)
HOW_TO_GET_ONE = (
    "no Chromium found for the browser tests: install one (Debian/Ubuntu: `sudo apt-get install chromium`; "
    "macOS: `brew install --cask chromium` or Google Chrome; Windows: Google Chrome; or "
    "`.venv/bin/playwright install chromium` where downloads are allowed), or point "
    f"{ENV} at its executable"
)


class NoChromium(Exception):
    pass


def _playwright_own() -> str | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # no driver or no browsers folder: not an installed browser
        return None
    return path if path and Path(path).is_file() else None


def find() -> str | None:
    """The path of an installed Chromium (or Chrome), or None."""
    if os.environ.get(ENV):
        path = os.environ[ENV]
        if not Path(path).is_file():
            raise NoChromium(f"{ENV}={path} is not a file")
        return path
    for name in _ON_PATH:
        found = shutil.which(name)
        if found:
            return found
    for path in _INSTALLED_ELSEWHERE:
        if Path(path).is_file():
            return path
    return _playwright_own()


def ensure() -> str:
    """An installed Chromium; as root with apt-get, installs Debian's ``chromium`` if none is."""
    found = find()
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        print("no Chromium found: installing Debian's chromium (apt-get install -y chromium)", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
        found = find()
        if found:
            return found
    raise NoChromium(HOW_TO_GET_ONE)


def main() -> int:
    try:
        print(f"chromium for the browser tests: {ensure()}")
    except (NoChromium, subprocess.CalledProcessError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
