"""Packaging without Docker: the real layer bundler (pip for Lambda's platform) and the
processor copier, run into temp folders; asset hashes that ignore unrelated folders."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import aws_cdk as cdk
import pytest

from infra.components.bundling import (
    LayerBundler,
    PackageCopier,
    folder_size_bytes,
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
    (source / "tests").mkdir()
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
