"""What ``make test-latest`` found: the packages whose newest allowed release differs from uv.lock.

``python -m imgpipe_tools.drift <python>`` lists the distributions installed for that interpreter
(a throwaway venv resolved to the newest versions the ranges in pyproject.toml allow) and prints
each one whose version is not the lock's, so a failing run names the releases to suspect first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

LOCK = Path(__file__).resolve().parents[1] / "uv.lock"


def locked_versions(lock: Path = LOCK) -> dict[str, set[str]]:
    """``{name: versions}`` of uv.lock (a package may have one version per supported Python range)."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(lock.read_text(encoding="utf-8"))["package"]:
        versions.setdefault(package["name"], set()).add(package["version"])
    return versions


def drift(installed: Mapping[str, str], locked: Mapping[str, set[str]]) -> list[str]:
    """One line per installed package whose version the lock does not hold (names normalized)."""
    lines = []
    for name, version in sorted(installed.items()):
        key = name.lower().replace("_", "-").replace(".", "-")
        pinned = locked.get(key)
        if pinned is None:
            lines.append(f"{key} {version} (not in the lock)")
        elif version not in pinned:
            lines.append(f"{key} {' / '.join(sorted(pinned))} -> {version}")
    return lines


def installed_versions(python: str) -> dict[str, str]:
    from uv import find_uv_bin

    cmd = [find_uv_bin(), "pip", "list", "--python", python, "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return {p["name"]: p["version"] for p in json.loads(out)}


def main(argv: list[str] | None = None) -> int:
    [python] = argv if argv is not None else sys.argv[1:]
    installed = installed_versions(python)
    installed.pop("imgpipe", None)
    lines = drift(installed, locked_versions())
    print(f"newest allowed vs uv.lock: {len(lines)} package(s) differ")
    for line in lines:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
