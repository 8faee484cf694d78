"""Packaging without Docker: the shared layer and each processor's code, bundled locally.

CDK asks an ``ILocalBundling`` first and only falls back to Docker when it returns False; ours
always bundle, so the Docker image named in ``BundlingOptions`` is never pulled or run.

Asset hashes are computed here from the inputs (CUSTOM), not by CDK from a source folder:
- the layer's hash depends only on the ``imgpipe`` package, the runtime pins of ``uv.lock``, the
  Python version and the wheel platform, so adding a processor folder never rebuilds or renames it;
- a processor's hash depends only on its own folder.
Tests skip bundling and still get these exact hashes, so the independence test covers them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.constants import LAYER_PYTHON_BUDGET_BYTES, LAYER_PYTHON_PLATFORM

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_PACKAGE = REPO_ROOT / "imgpipe"

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


LOCK = REPO_ROOT / "uv.lock"
ELF_MACHINE_AARCH64 = 183
#: runtime requirements published as a pure-Python sdist only (pyvips since 2.2; its libvips comes
#: as the pyvips-binary wheel): the only ones uv may build, here, into a wheel for Lambda.
SDIST_ONLY_REQUIREMENTS = frozenset({"pyvips"})


def uv_command() -> str:
    """The uv the venv was installed with (it is in the lock, so its version is the lock's)."""
    from uv import find_uv_bin

    return find_uv_bin()


def layer_requirements(root: Path = REPO_ROOT) -> list[str]:
    """What the layer ships besides imgpipe: the project's runtime dependencies exactly as
    ``uv.lock`` pins them, transitive ones included, one ``name==version`` per package with its
    environment marker and hashes. The lock is also what the venv is installed from, so the layer
    ships the versions the tests ran against; an upgrade is a change of the lock (``make lock``)."""
    cmd = [uv_command(), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-header", "--no-annotate"]
    cmd += ["--format", "requirements-txt", "--project", str(root)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"reading the runtime pins from uv.lock failed: {' '.join(cmd)}\n{result.stderr}")
    # "name==1.0 ; marker \" then "--hash=sha256:..." lines: one requirement per package
    joined = result.stdout.replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def pinned_versions(requirements: Sequence[str]) -> dict[str, str]:
    """``{normalized name: version}`` of ``name==version`` requirements."""
    pins = {}
    for line in requirements:
        req = Requirement(line.split(" --hash")[0])
        (spec,) = req.specifier
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def layer_install_command(target: Path, requirements_file: Path, python_version: str, platform: str) -> list[str]:
    """uv installing the locked wheels for Lambda's platform and Python, not for the machine
    running it: no resolution (every package is pinned, with its hashes), no builds but the
    pure-Python sdists, no byte code."""
    cmd = [uv_command(), "pip", "install", "--quiet", "--no-deps", "--require-hashes", "--no-compile"]
    cmd += ["--python-platform", platform, "--python-version", python_version, "--target", str(target)]
    for name in pinned_versions(requirements_file.read_text().splitlines()):
        if name not in SDIST_ONLY_REQUIREMENTS:
            cmd += ["--only-binary", name]
    return [*cmd, "-r", str(requirements_file)]


def install_layer_packages(target: Path, requirements: Sequence[str], python_version: str, platform: str) -> None:
    """The locked runtime packages, installed into ``target`` for Lambda; every native library in
    them must be aarch64 (a package compiled here by mistake would not load there)."""
    with tempfile.TemporaryDirectory(prefix="imgpipe-layer-") as tmp:
        requirements_file = Path(tmp) / "requirements.txt"
        requirements_file.write_text("\n".join(requirements) + "\n")
        cmd = layer_install_command(target, requirements_file, python_version, platform)
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"layer bundling failed: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    libraries = native_libraries(target)
    foreign = [p.relative_to(target).as_posix() for p in libraries if elf_machine(p) != ELF_MACHINE_AARCH64]
    if foreign:
        raise RuntimeError(f"{foreign} are not aarch64 libraries: they cannot ship to Lambda")


def native_libraries(root: Path) -> list[Path]:
    """Shared objects, versioned ones (``libvips.so.42``) included."""
    return [p for p in sorted(root.rglob("*.so*")) if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]


def elf_machine(path: Path) -> int:
    """The ``e_machine`` of a little-endian ELF file (0 when it is not one)."""
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF" or header[5] != 1:
        return 0
    return int.from_bytes(header[18:20], "little")


def folder_size_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def add_shared_package(site: Path, package: Path = SHARED_PACKAGE) -> Path:
    """The layer's own code: the runtime package, copied as it is (minus caches and tests)."""
    target = site / package.name
    copy_tree(package, target)
    return target


def layer_asset_hash(
    python_version: str, platform: str, requirements: Sequence[str], package: Path = SHARED_PACKAGE
) -> str:
    """From exactly what the layer ships: the package's files, the pins and the wheel target."""
    return tree_hash(package, python_version, platform, *requirements)


@jsii.implements(cdk.ILocalBundling)
class LayerBundler:
    """Builds the layer: ``python/`` = the locked wheels for the Lambda platform + the imgpipe package."""

    def __init__(self, requirements: Sequence[str], python_version: str, platform: str) -> None:
        self.requirements = list(requirements)
        self.python_version = python_version
        self.platform = platform

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_options: Any) -> bool:
        site = Path(output_dir) / "python"
        site.mkdir(parents=True, exist_ok=True)
        install_layer_packages(site, self.requirements, self.python_version, self.platform)
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

    boto3 is in Lambda's runtime too, but shipping the locked one means the functions run the version
    the tests ran against (about 33 MiB of the layer's ~85 MiB; the limit is 250 MiB)."""

    def __init__(self, scope: Construct, construct_id: str, *, runtime: lambda_.Runtime, python_version: str) -> None:
        super().__init__(scope, construct_id)
        requirements = layer_requirements()
        bundler = LayerBundler(requirements, python_version, LAYER_PYTHON_PLATFORM)
        asset_hash = layer_asset_hash(python_version, LAYER_PYTHON_PLATFORM, requirements)
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
