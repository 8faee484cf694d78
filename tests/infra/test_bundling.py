"""Packaging without Docker: the real layer bundler (pip for Lambda's platform) and the
processor copier, run into temp folders; asset hashes that ignore unrelated folders."""

from __future__ import annotations

import ast
import shutil
import struct
from pathlib import Path

import aws_cdk as cdk
import pytest

from imgpipe.registry import discover
from infra.components.bundling import (
    SHARED_PACKAGE,
    LayerBundler,
    PackageCopier,
    add_shared_package,
    folder_size_bytes,
    layer_asset_hash,
    layer_requirements,
    tree_hash,
)
from infra.constants import LAMBDA_PYTHON_VERSION, LAYER_PIP_PLATFORMS, LAYER_PYTHON_BUDGET_BYTES
from infra.stack import RUNTIME
from tests.infra.synth import REPO_SERVICES

ELF_MACHINE_AARCH64 = 183
_IMAGE = cdk.DockerImage.from_registry("never-used")


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", f"{path.name} is not an ELF file"
    assert header[5] == 1, "expected little-endian"
    return struct.unpack_from("<H", header, 18)[0]


@pytest.mark.slow
def test_layer_bundler_installs_aarch64_wheels_for_the_lambda_python(tmp_path: Path) -> None:
    assert RUNTIME.name == f"python{LAMBDA_PYTHON_VERSION}"
    bundler = LayerBundler(layer_requirements(), LAMBDA_PYTHON_VERSION, LAYER_PIP_PLATFORMS)
    assert bundler.try_bundle(str(tmp_path), image=_IMAGE) is True
    site = tmp_path / "python"
    tag = "cpython-" + LAMBDA_PYTHON_VERSION.replace(".", "")
    imaging = list((site / "PIL").glob("_imaging.*.so"))
    assert [p.name for p in imaging] == [f"_imaging.{tag}-aarch64-linux-gnu.so"]
    assert _elf_machine(imaging[0]) == ELF_MACHINE_AARCH64
    (heif,) = site.glob(f"_pillow_heif.{tag}-aarch64-linux-gnu.so")
    assert _elf_machine(heif) == ELF_MACHINE_AARCH64
    assert (site / "aws_lambda_powertools").is_dir() and (site / "aws_xray_sdk").is_dir()
    assert (site / "imgpipe" / "runtime.py").is_file()  # the shared package itself
    _assert_runtime_only(site / "imgpipe")
    assert not list(site.rglob("__pycache__")), "byte code of the build machine's Python is useless in Lambda"
    assert folder_size_bytes(site) < LAYER_PYTHON_BUDGET_BYTES


def test_layer_requirements_are_pinned_to_the_tested_versions() -> None:
    from importlib import metadata

    pins = layer_requirements()
    assert f"pillow=={metadata.version('pillow')}" in pins
    assert any(p.startswith("aws-lambda-powertools[tracer]==") for p in pins)


def test_processor_copier_ships_the_folder_as_a_package(tmp_path: Path) -> None:
    source = tmp_path / "src" / "resize"
    shutil.copytree(REPO_SERVICES / "resize", source, ignore=shutil.ignore_patterns("__pycache__"))
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "logic.cpython-311.pyc").write_bytes(b"x")
    (source / "tests").mkdir(exist_ok=True)  # the service's own tests may already be there
    (source / "tests" / "test_x.py").write_text("")
    out = tmp_path / "out"
    assert PackageCopier(source, "resize").try_bundle(str(out), image=_IMAGE) is True
    shipped = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert "resize/handler.py" in shipped and "resize/manifest.toml" in shipped and "resize/__init__.py" in shipped
    assert not [p for p in shipped if "__pycache__" in p or "/tests/" in p or not p.startswith("resize/")]


def test_tree_hash_follows_the_folder_only(tmp_path: Path) -> None:
    folder = tmp_path / "services" / "resize"
    shutil.copytree(REPO_SERVICES / "resize", folder, ignore=shutil.ignore_patterns("__pycache__"))
    before = tree_hash(folder, "resize")
    (tmp_path / "services" / "other").mkdir()
    (tmp_path / "services" / "other" / "handler.py").write_text("x = 1\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"cache")
    assert tree_hash(folder, "resize") == before
    (folder / "logic.py").write_text((folder / "logic.py").read_text() + "\n# changed\n")
    assert tree_hash(folder, "resize") != before
    assert tree_hash(folder, "resize") != tree_hash(folder, "resize2")


# Developer tooling that lives in imgpipe_tools/ and must never reach a Lambda.
_TOOLING_NAMES = {"cli.py", "local", "faults.py", "fakes.py", "memory_catalog.py", "testing", "tests"}


def _assert_runtime_only(shipped: Path) -> None:
    names = {p.name for p in shipped.rglob("*")}
    assert not names & _TOOLING_NAMES, f"the layer ships developer tooling: {sorted(names & _TOOLING_NAMES)}"
    assert (shipped / "runtime.py").is_file() and (shipped / "adapters.py").is_file()
    users = [p.name for p in shipped.rglob("*.py") if _uses_tooling(p)]
    assert users == [], f"shipped files would import the tooling package, absent from Lambda: {users}"


def _uses_tooling(path: Path) -> bool:
    """An import of imgpipe_tools, or its name as a string (``importlib.import_module``).
    Docstrings may still say where the in-memory twins live."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        if any(name == "imgpipe_tools" or name.startswith("imgpipe_tools.") for name in names):
            return True
    return False


def test_the_layer_ships_the_runtime_and_no_developer_tooling(tmp_path: Path) -> None:
    """The bundler's own copy step (the pip step before it only adds third-party wheels)."""
    shipped = add_shared_package(tmp_path / "python")
    assert shipped == tmp_path / "python" / "imgpipe"
    _assert_runtime_only(shipped)
    # The asset hash reads exactly the files shipped, names and bytes: nothing outside them
    # (imgpipe_tools/, services/, docs) can change it.
    assert tree_hash(shipped) == tree_hash(SHARED_PACKAGE)


def test_the_layer_hash_ignores_the_tooling_and_follows_the_runtime(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for package in ("imgpipe", "imgpipe_tools"):
        shutil.copytree(REPO_SERVICES.parent / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))

    def layer_hash() -> str:
        return layer_asset_hash(LAMBDA_PYTHON_VERSION, LAYER_PIP_PLATFORMS, ["pillow==1"], package=root / "imgpipe")

    before = layer_hash()
    assert before == layer_asset_hash(LAMBDA_PYTHON_VERSION, LAYER_PIP_PLATFORMS, ["pillow==1"])
    cli = root / "imgpipe_tools" / "cli.py"
    cli.write_text(cli.read_text() + "\n# a CLI edit publishes no new layer\n")
    assert layer_hash() == before
    runtime = root / "imgpipe" / "runtime.py"
    runtime.write_text(runtime.read_text() + "\n# changed\n")
    assert layer_hash() != before


def test_no_function_asset_ships_its_services_tests(tmp_path: Path) -> None:
    """A service's own tests live in its folder; its Lambda gets neither them nor a new hash
    when only they change."""
    for manifest in discover(REPO_SERVICES):
        out = tmp_path / "out" / manifest.name
        assert PackageCopier(manifest.folder, manifest.name).try_bundle(str(out), image=_IMAGE) is True
        shipped = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
        assert f"{manifest.name}/handler.py" in shipped
        assert not [p for p in shipped if "/tests/" in p or p.rpartition("/")[2].startswith("test_")], shipped

    folder = tmp_path / "services" / "resize"
    shutil.copytree(REPO_SERVICES / "resize", folder, ignore=shutil.ignore_patterns("__pycache__"))
    before = tree_hash(folder, "resize")
    (folder / "tests").mkdir(exist_ok=True)
    (folder / "tests" / "test_new.py").write_text("def test_x() -> None:\n    assert True\n")
    assert tree_hash(folder, "resize") == before
