"""Discovers processors: every folder under ``services/`` that holds a manifest.

``infra/`` and the local runtime both call :func:`discover`, so a new folder becomes a new
processor in both places with no other edit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imgpipe.manifest import MANIFEST_FILE, Manifest, ManifestError, load_manifest

#: the repository's own services folder; IMGPIPE_SERVICES_ROOT points elsewhere (tests).
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "services"


def services_root() -> Path:
    return Path(os.environ.get("IMGPIPE_SERVICES_ROOT", DEFAULT_ROOT))


def discover(root: Path | None = None) -> list[Manifest]:
    """All processors, sorted by name. A folder without a manifest is ignored (e.g. __pycache__);
    a folder with a bad manifest raises :class:`ManifestError`."""
    root = Path(root) if root else services_root()
    if not root.is_dir():
        raise FileNotFoundError(f"services folder not found: {root}")
    manifests = [
        load_manifest(child) for child in sorted(root.iterdir()) if child.is_dir() and (child / MANIFEST_FILE).is_file()
    ]
    for m in manifests:
        if not (m.folder / "handler.py").is_file():
            raise ManifestError(m.folder, "-", "the folder has no handler.py")
    return manifests


def variant_producers(manifests: Sequence[Manifest]) -> list[Manifest]:
    return [m for m in manifests if m.produces_variants]


def expected_producers_spec(manifests: Sequence[Manifest], prefixes: Sequence[str] | None = None) -> str:
    """JSON handed to notify: which processors must report for an upload, with their key
    filters so notify can tell which of them a given key reaches. Generated, never edited."""
    spec: list[dict[str, Any]] = []
    for m in variant_producers(manifests):
        triggers = [t.with_prefixes(prefixes) if prefixes else t for t in m.upload_triggers()]
        spec.append(
            {
                "name": m.name,
                "triggers": [{"prefixes": list(t.prefixes), "suffixes": list(t.suffixes)} for t in triggers],
            }
        )
    return json.dumps(spec, separators=(",", ":"), sort_keys=True)


def expected_for_key(spec_json: str, key: str) -> list[str]:
    """Names of the producers an upload with ``key`` reaches, from :func:`expected_producers_spec`."""
    from imgpipe.manifest import Trigger

    names = []
    for entry in json.loads(spec_json):
        triggers = [Trigger("uploads", tuple(t["prefixes"]), tuple(t["suffixes"])) for t in entry["triggers"]]
        if any(t.matches_key(key) for t in triggers):
            names.append(entry["name"])
    return sorted(names)
