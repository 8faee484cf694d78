"""Packaging without Docker: the real layer bundler (pip for Lambda's platform) and the
processor copier, run into temp folders; asset hashes that ignore unrelated folders."""

from __future__ import annotations

import ast
import shutil
import tomllib
from importlib import metadata
from pathlib import Path

import aws_cdk as cdk
import pytest
from packaging.utils import canonicalize_name

from imgpipe.registry import discover
from imgpipe_tools.drift import locked_versions
from infra.components.bundling import (
    ELF_MACHINE_AARCH64,
    LOCK,
    SHARED_PACKAGE,
    LayerBundler,
    PackageCopier,
    add_shared_package,
    elf_machine,
    folder_size_bytes,
    layer_asset_hash,
    layer_requirements,
    native_libraries,
    pinned_versions,
    tree_hash,
)
from infra.constants import LAMBDA_PYTHON_VERSION, LAYER_PYTHON_BUDGET_BYTES, LAYER_PYTHON_PLATFORM
from infra.stack import RUNTIME
from tests.infra.synth import REPO_SERVICES

PYPROJECT = LOCK.parent / "pyproject.toml"

_IMAGE = cdk.DockerImage.from_registry("never-used")


def _locked() -> dict[str, set[str]]:
    """Every package of uv.lock but the project: ``{name: versions}`` (a package has two versions
    when its newest release drops a Python the project still supports)."""
    versions = locked_versions(LOCK)
    versions.pop("imgpipe", None)
    return versions


def _installed_in(site: Path) -> dict[str, str]:
    """What an installed folder holds, from its ``*.dist-info`` folders' metadata."""
    found = {}
    for dist in metadata.distributions(path=[str(site)]):
        found[canonicalize_name(dist.metadata["Name"])] = dist.version
    return found


@pytest.mark.slow
def test_layer_bundler_installs_the_locked_aarch64_wheels_for_the_lambda_python(tmp_path: Path) -> None:
    assert RUNTIME.name == f"python{LAMBDA_PYTHON_VERSION}"
    requirements = layer_requirements()
    bundler = LayerBundler(requirements, LAMBDA_PYTHON_VERSION, LAYER_PYTHON_PLATFORM)
    assert bundler.try_bundle(str(tmp_path), image=_IMAGE) is True
    site = tmp_path / "python"
    # the versions shipped are the lock's, package for package, and nothing else is shipped
    shipped = _installed_in(site)
    locked = _locked()
    assert [name for name, version in shipped.items() if version not in locked.get(name, ())] == []
    assert shipped == pinned_versions(requirements)
    tag = "cpython-" + LAMBDA_PYTHON_VERSION.replace(".", "")
    imaging = list((site / "PIL").glob("_imaging.*.so"))
    assert [p.name for p in imaging] == [f"_imaging.{tag}-aarch64-linux-gnu.so"]
    (heif,) = site.glob(f"_pillow_heif.{tag}-aarch64-linux-gnu.so")
    libraries = native_libraries(site)
    assert heif in libraries and len(libraries) > 10
    assert {elf_machine(p) for p in libraries} == {ELF_MACHINE_AARCH64}
    assert (site / "aws_lambda_powertools").is_dir() and (site / "aws_xray_sdk").is_dir()
    assert (site / "imgpipe" / "runtime.py").is_file()  # the shared package itself
    _assert_runtime_only(site / "imgpipe")
    assert not list(site.rglob("__pycache__")), "byte code of the build machine's Python is useless in Lambda"
    assert folder_size_bytes(site) < LAYER_PYTHON_BUDGET_BYTES


def test_the_layer_ships_the_locked_runtime_the_tests_run_against() -> None:
    """The layer's pins are uv.lock's runtime closure (transitive ones included, with hashes),
    and the venv the tests run in holds those very versions."""
    requirements = layer_requirements()
    pins = pinned_versions(requirements)
    locked = _locked()
    assert [name for name, version in pins.items() if version not in locked.get(name, ())] == []
    # the runtime dependencies and what they pull in, and no developer tooling
    assert {"pillow", "pillow-heif", "pyvips", "pyvips-binary", "boto3", "botocore", "aws-xray-sdk"} <= set(pins)
    assert not {"moto", "pytest", "aws-cdk-lib", "uv", "ruff"} & set(pins)
    assert all(" --hash=sha256:" in line for line in requirements)
    assert {name: metadata.version(name) for name in pins} == pins


def test_the_venv_holds_exactly_the_locked_versions() -> None:
    """``make venv`` syncs from the lock: every package installed here is the lock's version
    (a package installed by hand, or a venv left behind by a changed lock, fails this)."""
    locked = _locked()
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    assert installed.pop("imgpipe") == tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    assert {name: version for name, version in installed.items() if version not in locked.get(name, ())} == {}


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
        return layer_asset_hash(LAMBDA_PYTHON_VERSION, LAYER_PYTHON_PLATFORM, ["pillow==1"], package=root / "imgpipe")

    before = layer_hash()
    assert before == layer_asset_hash(LAMBDA_PYTHON_VERSION, LAYER_PYTHON_PLATFORM, ["pillow==1"])
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
