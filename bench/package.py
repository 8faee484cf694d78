"""Layer size, zipped and unzipped, against Lambda's 250 MB limit.

The layer is built with the stack's own bundling code (``infra/components/bundling.py``: the
pinned requirements, pip with ``--platform`` for Lambda's arm64 runtime, the files it ships of
the imgpipe package), so the bench measures what ``cdk deploy`` uploads. The wheels are cached
under the temp dir by requirements, Python version and platforms: the first run downloads them
from PyPI, later runs only copy imgpipe in again.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Lambda: a function and all its layers, unzipped, may not exceed 250 MB (262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT_BYTES = 262_144_000
#: Lambda: a zip uploaded directly (not through S3) may not exceed 50 MB.
LAMBDA_DIRECT_ZIP_LIMIT_BYTES = 50 * 1024 * 1024
#: the layer, with libvips in it, stays under 120 MB unzipped (cold start pulls it)
LAYER_TARGET_BYTES = 120_000_000


def _zip_size(folder: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "layer.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(folder).as_posix())
        return target.stat().st_size


def run(log: Callable[[str], None]) -> dict[str, Any]:
    try:
        from infra.components.bundling import (
            SHARED_PACKAGE,
            copy_tree,
            folder_size_bytes,
            install_layer_packages,
            layer_requirements,
        )
        from infra.constants import LAMBDA_PYTHON_VERSION, LAYER_PYTHON_BUDGET_BYTES, LAYER_PYTHON_PLATFORM
    except ImportError as exc:
        return {"error": f"the stack's layer bundler could not be imported: {exc}"}

    requirements = layer_requirements()
    # the wheels are cached by the locked pins they come from; imgpipe is copied fresh every run
    key = hashlib.sha256("\n".join([LAMBDA_PYTHON_VERSION, LAYER_PYTHON_PLATFORM, *requirements]).encode()).hexdigest()
    wheels = Path(tempfile.gettempdir()) / "imgpipe-bench" / f"layer-wheels-{key[:16]}"
    if not (wheels / ".complete").exists():
        log(f"package: installing the layer's locked wheels for Python {LAMBDA_PYTHON_VERSION} arm64")
        shutil.rmtree(wheels, ignore_errors=True)
        try:
            install_layer_packages(wheels, requirements, LAMBDA_PYTHON_VERSION, LAYER_PYTHON_PLATFORM)
        except RuntimeError as exc:
            lines = str(exc).strip().splitlines()
            return {"error": f"installing the layer failed: {lines[-1] if lines else exc}"}
        (wheels / ".complete").touch()

    with tempfile.TemporaryDirectory(prefix="imgpipe-bench-layer-") as tmp:
        # the layer's layout: python/<packages>, which Lambda puts on sys.path
        site = Path(tmp) / "layer" / "python"
        shutil.copytree(wheels, site, ignore=shutil.ignore_patterns(".complete"))
        copy_tree(SHARED_PACKAGE, site / SHARED_PACKAGE.name)
        unzipped = folder_size_bytes(site)
        zipped = _zip_size(site.parent)
        per_package: dict[str, int] = {}
        for child in site.iterdir():
            name = child.name.split("-")[0].lower()  # "pillow-13.0.0.dist-info" -> "pillow"
            size = folder_size_bytes(child) if child.is_dir() else child.stat().st_size
            per_package[name] = per_package.get(name, 0) + size
    largest = sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)[:6]
    return {
        "python_version": LAMBDA_PYTHON_VERSION,
        "platforms": [LAYER_PYTHON_PLATFORM],
        "requirements": [line.split(" --hash")[0] for line in requirements],
        "unzipped_bytes": unzipped,
        "zipped_bytes": zipped,
        "unzipped_limit_bytes": LAMBDA_UNZIPPED_LIMIT_BYTES,
        "stack_budget_bytes": LAYER_PYTHON_BUDGET_BYTES,
        "share_of_limit": round(unzipped / LAMBDA_UNZIPPED_LIMIT_BYTES, 3),
        "direct_upload_zip_limit_bytes": LAMBDA_DIRECT_ZIP_LIMIT_BYTES,
        "met": unzipped <= LAMBDA_UNZIPPED_LIMIT_BYTES,
        "target_bytes": LAYER_TARGET_BYTES,
        "target_met": unzipped < LAYER_TARGET_BYTES,
        "largest": [{"package": n, "bytes": b} for n, b in largest],
    }
