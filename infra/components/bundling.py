"""Packaging without Docker: the shared layer and each processor's code, bundled locally.

CDK asks an ``ILocalBundling`` first and only falls back to Docker when it returns False; ours
always bundle, so the Docker image named in ``BundlingOptions`` is never pulled or run.

Asset hashes are computed here from the inputs (CUSTOM), not by CDK from a source folder:
- the layer's hash depends only on the ``imgpipe`` package, the pinned requirements, the Python
  version and the wheel platforms, so adding a processor folder never rebuilds or renames it;
- a processor's hash depends only on its own folder.
Tests skip bundling and still get these exact hashes, so the independence test covers them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from packaging.requirements import Requirement

from infra.constants import LAYER_PIP_IMPLEMENTATION, LAYER_PIP_PLATFORMS, LAYER_PYTHON_BUDGET_BYTES

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_PACKAGE = REPO_ROOT / "imgpipe"
PYPROJECT = REPO_ROOT / "pyproject.toml"

# Never shipped: caches, byte code for the build machine's Python, and tests.
_SKIP_DIRS = {"__pycache__", "tests", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo"}
# Bump when the bundlers change what they write, so existing assets are rebuilt.
_BUNDLER_VERSION = "1"
# Named because BundlingOptions requires an image; local bundling always succeeds first.
_UNUSED_IMAGE = "imgpipe_tools/local-bundling-only"


def _shipped_files(root: Path) -> list[Path]:
    """Files under ``root`` that go into an asset, in a stable order."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts) or path.suffix in _SKIP_SUFFIXES:
            continue
        if path.is_file():
            files.append(path)
    return files


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def tree_hash(root: Path, *extra: str) -> str:
    """Hash of a folder's shipped files (relative names and contents) plus ``extra`` strings."""
    parts: list[bytes] = [_BUNDLER_VERSION.encode(), *(e.encode() for e in extra)]
    for path in _shipped_files(root):
        parts += [path.relative_to(root).as_posix().encode(), path.read_bytes()]
    return _digest(parts)


def copy_tree(source: Path, target: Path) -> None:
    for path in _shipped_files(source):
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def layer_requirements(pyproject: Path = PYPROJECT) -> list[str]:
    """The project's runtime dependencies, pinned to the versions installed here when they
    satisfy the declared range: the layer then ships exactly what the tests ran against, and a
    new upstream release cannot slip into a deploy unnoticed (the pins are in the asset hash)."""
    declared = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pinned = []
    for line in declared:
        req = Requirement(line)
        try:
            installed = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            pinned.append(line)
            continue
        if req.specifier.contains(installed, prereleases=True):
            extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
            pinned.append(f"{req.name}{extras}=={installed}")
        else:
            pinned.append(line)
    return pinned


#: runtime requirements published as a pure-Python sdist only (pyvips since 2.2; its libvips
#: comes as the pyvips-binary wheel): built into a wheel here first, since pip cannot build an
#: sdist while it targets another platform.
SDIST_ONLY_REQUIREMENTS = frozenset({"pyvips"})


def build_pure_wheels(requirements: Sequence[str], wheelhouse: Path) -> Path | None:
    """Wheels for :data:`SDIST_ONLY_REQUIREMENTS` in ``wheelhouse`` (None when there are none).
    A built wheel must be pure Python (``none-any``): one compiled here would not run on Lambda."""
    wanted = [r for r in requirements if Requirement(r).name in SDIST_ONLY_REQUIREMENTS]
    if not wanted:
        return None
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps"]
    cmd += ["--wheel-dir", str(wheelhouse), *wanted]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building {wanted} failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    compiled = [w.name for w in wheelhouse.glob("*.whl") if not w.name.endswith("-none-any.whl")]
    if compiled:
        raise RuntimeError(f"{compiled} are not pure Python: they cannot ship to Lambda from this machine")
    return wheelhouse


def pip_install_command(
    target: Path,
    requirements: Sequence[str],
    python_version: str,
    platforms: Sequence[str],
    find_links: Path | None = None,
) -> list[str]:
    """pip resolving wheels for Lambda's platform and Python, not for the machine running it."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    cmd += ["--only-binary=:all:", "--implementation", LAYER_PIP_IMPLEMENTATION]
    cmd += ["--python-version", python_version]
    for platform in platforms:
        cmd += ["--platform", platform]
    if find_links is not None:
        cmd += ["--find-links", str(find_links)]
    cmd += ["--target", str(target), *requirements]
    return cmd


def folder_size_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def add_shared_package(site: Path, package: Path = SHARED_PACKAGE) -> Path:
    """The layer's own code: the runtime package, copied as it is (minus caches and tests)."""
    target = site / package.name
    copy_tree(package, target)
    return target


def layer_asset_hash(
    python_version: str, platforms: Sequence[str], requirements: Sequence[str], package: Path = SHARED_PACKAGE
) -> str:
    """From exactly what the layer ships: the package's files, the pins and the wheel target."""
    return tree_hash(package, python_version, *platforms, *requirements)


@jsii.implements(cdk.ILocalBundling)
class LayerBundler:
    """Builds the layer: ``python/`` = pip wheels for the Lambda platform + the imgpipe package."""

    def __init__(self, requirements: Sequence[str], python_version: str, platforms: Sequence[str]) -> None:
        self.requirements = list(requirements)
        self.python_version = python_version
        self.platforms = list(platforms)

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        site = Path(output_dir) / "python"
        site.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="imgpipe-wheels-") as wheelhouse:
            links = build_pure_wheels(self.requirements, Path(wheelhouse))
            cmd = pip_install_command(site, self.requirements, self.python_version, self.platforms, links)
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"layer bundling failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
        add_shared_package(site)
        size = folder_size_bytes(site)
        if size > LAYER_PYTHON_BUDGET_BYTES:
            raise RuntimeError(
                f"layer is {size / 2**20:.0f} MiB unzipped, over its {LAYER_PYTHON_BUDGET_BYTES / 2**20:.0f} MiB budget"
            )
        return True


@jsii.implements(cdk.ILocalBundling)
class PackageCopier:
    """Ships a processor folder as package ``<name>/`` (handler ``<name>.handler.handler``)."""

    def __init__(self, source: Path, package: str) -> None:
        self.source = source
        self.package = package

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        copy_tree(self.source, Path(output_dir) / self.package)
        return True


def _local_only(local: Any) -> cdk.BundlingOptions:
    return cdk.BundlingOptions(image=cdk.DockerImage.from_registry(_UNUSED_IMAGE), local=local)


def processor_code(folder: Path, name: str) -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(folder),
        asset_hash=tree_hash(folder, name),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=_local_only(PackageCopier(folder, name)),
    )


class SharedLayer(Construct):
    """The Lambda layer every processor uses: imgpipe + Pillow + pillow-heif + Powertools + boto3.

    boto3 is in Lambda's runtime too, but pinning it here means the functions run the version
    the tests ran against (about 33 MiB of the layer's ~85 MiB; the limit is 250 MiB)."""

    def __init__(self, scope: Construct, construct_id: str, *, runtime: lambda_.Runtime, python_version: str) -> None:
        super().__init__(scope, construct_id)
        requirements = layer_requirements()
        bundler = LayerBundler(requirements, python_version, LAYER_PIP_PLATFORMS)
        asset_hash = layer_asset_hash(python_version, LAYER_PIP_PLATFORMS, requirements)
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(
                str(SHARED_PACKAGE),
                asset_hash=asset_hash,
                asset_hash_type=cdk.AssetHashType.CUSTOM,
                bundling=_local_only(bundler),
            ),
            compatible_runtimes=[runtime],
            compatible_architectures=[lambda_.Architecture.ARM_64],
            description="imgpipe shared package, Pillow, pillow-heif, Powertools, boto3",
        )
