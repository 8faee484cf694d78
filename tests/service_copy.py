"""A copy of a service folder under a new name: what a developer does to start a new processor.

Used to check the promise that a folder is a whole room: the copy is discovered, passes its own
tests and synthesizes, with no edit outside its folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def copy_service(source: Path, root: Path, name: str) -> Path:
    """Copy ``source`` to ``root/name`` with the old name replaced by ``name`` in every text file."""
    target = root / name
    shutil.copytree(source, target, ignore=_CACHES)
    for path in target.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".toml", ".md", ".json"):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace(source.name, name), encoding="utf-8")
    return target


def copy_services(source_root: Path, root: Path) -> Path:
    """All of ``source_root`` (the services and their tests), without caches."""
    shutil.copytree(source_root, root, ignore=_CACHES)
    return root
