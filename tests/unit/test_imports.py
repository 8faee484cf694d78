"""Imports go one way, and this test holds them there: every rule of docs/architecture.md
section 2, each with its name in brackets in a failure.

- [runtime-only] The runtime package ``imgpipe`` (the only project code in the Lambda layer) never
  imports the developer tooling, the CDK app, the services, the tests or the bench.
- [layer-dependencies] The code that ships in Lambda (the runtime, and a service's folder without
  its ``tests/``) imports the standard library, the project's own shipped code and the layer's
  dependencies only: the ``[project] dependencies`` of pyproject.toml, with what they depend on.
  Anything else (moto, numpy...) would work in the tests and fail in Lambda.
- [imaging-seam] Only ``imgpipe/imaging`` imports Pillow, pillow-heif or pyvips; the tests and the
  bench may (to make and measure images), nothing else that ships or runs the stack may.
- [no-cross-service] No service imports another (its ``tests/`` neither).
- [no-tooling-in-services] A service's code imports neither the tooling, the CDK app, the tests
  nor the bench; its own ``tests/`` folder may use test support.
- [relative-own-imports] A service imports its own modules relatively: in Lambda the folder ships
  as the top-level package ``<name>``, so ``services.<name>`` does not exist there.
- [infra-imports] The CDK app imports the runtime and, of the tooling, ``imgpipe_tools.outputs``
  only (the stack's output keys); never a service (it finds them by discovery), the tests or the bench.
- [tools-imports] The tooling imports the runtime; services only by discovery (a handler is loaded
  by its module path, as Lambda does), never by an import statement; never the CDK app, the tests
  or the bench.
- [no-cycles] No import cycles anywhere in the project.

Imports inside functions count (they run too); only ``if TYPE_CHECKING:`` blocks are left out, as
they never run.

The checker reads the source with ``ast``: nothing is imported, so it also sees modules whose
imports would fail. The last tests run it on small made-up trees to show that it does fail.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import itertools
import sys
import tomllib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("imgpipe", "imgpipe_tools", "services", "infra", "bench", "tests")
RUNTIME = "imgpipe"
#: what neither the runtime nor a service's code may import
TOOLING = ("imgpipe_tools", "infra", "tests", "bench")
_SKIP_DIRS = {"__pycache__", ".venv", "node_modules", "cdk.out"}
#: the image libraries, which only the imaging seam may import
IMAGE_LIBRARIES = ("PIL", "pillow_heif", "pyvips")
IMAGING = "imgpipe.imaging"
#: the one module of the tooling the CDK app may import
INFRA_MAY_IMPORT_FROM_TOOLS = "imgpipe_tools.outputs"


@functools.cache
def layer_modules(pyproject: Path = PROJECT_ROOT / "pyproject.toml") -> frozenset[str]:
    """The top-level modules the Lambda layer ships: those of the ``[project] dependencies`` and
    of everything they depend on (with the extras asked for), as installed here."""
    wanted: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in wanted and set(req.extras) <= wanted[name]:
            continue
        extras = wanted.setdefault(name, set())
        extras |= set(req.extras)
        for line in importlib.metadata.requires(req.name) or []:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras or {""}):
                todo.append(dep)
    return frozenset(
        module
        for module, dists in importlib.metadata.packages_distributions().items()
        if any(canonicalize_name(d) in wanted for d in dists)
    )


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted and absolute
    file: Path
    line: int
    relative: bool = False


@dataclass(frozen=True)
class Violation:
    file: str  # relative to the checked root
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.rule}] {self.detail}"


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _python_files(root: Path, packages: tuple[str, ...]) -> Iterator[Path]:
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if not _SKIP_DIRS.intersection(path.relative_to(root).parts):
                yield path


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _imports(root: Path, path: Path, modules: set[str]) -> list[Import]:
    """What ``path`` imports, each resolved to an absolute name; ``from a import b`` names the
    module ``a.b`` when that is a module of the project, else ``a``."""
    source = _module_name(root, path)
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    found = []
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # "from . import x" is the current package, each extra dot one up
                parts = package.split(".")
                anchor = parts[: len(parts) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        relative = isinstance(node, ast.ImportFrom) and node.level > 0
        found += [Import(source, t, path, node.lineno, relative) for t in dict.fromkeys(targets)]
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def _service_of(module: str, service_names: set[str]) -> str | None:
    """``services.thumbnail.logic`` -> ``thumbnail``; None outside a service's folder."""
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) >= 2 and parts[1] in service_names else None


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def _layer_rules(imp: Import, service_names: set[str], layer: frozenset[str]) -> tuple[str, str] | None:
    """The rule ``imp`` breaks and why, if it breaks one."""
    source_top, target_top = _top(imp.source), _top(imp.target)
    service = _service_of(imp.source, service_names)
    in_its_tests = service is not None and imp.source.split(".")[2:3] == ["tests"]
    ships = source_top == RUNTIME or (service is not None and not in_its_tests)
    if source_top == RUNTIME and target_top in (*TOOLING, "services"):
        return "runtime-only", f"the runtime package imports {imp.target}, which never ships in the layer"
    if (
        target_top in IMAGE_LIBRARIES
        and not _within(imp.source, IMAGING)
        and (ships or source_top in ("imgpipe_tools", "infra"))
    ):
        return "imaging-seam", f"{imp.source} imports {imp.target}; image work goes through {IMAGING}"
    other = _service_of(imp.target, service_names) if target_top == "services" else target_top
    if service is not None and other in service_names and other != service:
        return "no-cross-service", f"service {service} imports service {other} ({imp.target})"
    if ships and target_top not in (*PACKAGES, *sys.stdlib_module_names, *layer):
        return "layer-dependencies", (
            f"{imp.source} ships in Lambda and imports {imp.target}, which is not in the layer "
            "(pyproject.toml's [project] dependencies)"
        )
    if source_top == "infra" and (
        (target_top == "imgpipe_tools" and not _within(imp.target, INFRA_MAY_IMPORT_FROM_TOOLS))
        or target_top in ("services", "tests", "bench")
    ):
        return "infra-imports", (
            f"the CDK app imports {imp.target}; it may import imgpipe and {INFRA_MAY_IMPORT_FROM_TOOLS} only "
            "(services are found by discovery)"
        )
    if source_top == "imgpipe_tools" and target_top in ("services", "infra", "tests", "bench"):
        return "tools-imports", (
            f"the tooling imports {imp.target}; it reaches services by discovery only "
            "(imgpipe.registry), never the CDK app, the tests or the bench"
        )
    if service is None or in_its_tests:
        return None
    if target_top in TOOLING:
        return "no-tooling-in-services", f"service {service} imports {imp.target}, which is not in its Lambda"
    if not imp.relative and target_top in ("services", service):
        return "relative-own-imports", f"service {service} imports {imp.target} absolutely; use a relative import"
    return None


def _cycles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """One cycle (as a closed path) for each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, {}):
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_within(graph, group) for group in groups]


def _path_within(graph: dict[str, dict[str, Import]], group: set[str]) -> list[str]:
    """A shortest closed path through ``group``, from its first module back to it."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = deque([start])
    while frontier:
        node = frontier.popleft()
        for nxt in sorted(graph[node]):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt in group and nxt not in came_from:
                came_from[nxt] = node
                frontier.append(nxt)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group always has one


def check(root: Path, packages: tuple[str, ...] = PACKAGES) -> list[Violation]:
    layer = layer_modules()
    files = list(_python_files(root, packages))
    modules = {_module_name(root, p) for p in files}
    # A service is a folder under services/ (services/conftest.py is test setup, not a service).
    service_names = {
        p.parent.name for pattern in ("*/manifest.toml", "*/__init__.py") for p in (root / "services").glob(pattern)
    }

    def where(imp: Import) -> tuple[str, int]:
        return imp.file.relative_to(root).as_posix(), imp.line

    violations = []
    graph: dict[str, dict[str, Import]] = {}
    for path in files:
        for imp in _imports(root, path, modules):
            broken = _layer_rules(imp, service_names, layer)
            if broken:
                violations.append(Violation(*where(imp), *broken))
            if imp.target in modules:
                graph.setdefault(imp.source, {}).setdefault(imp.target, imp)
    for cycle in _cycles(graph):
        steps = []
        for a, b in itertools.pairwise(cycle):
            file, line = where(graph[a][b])
            steps.append(f"{a} -> {b} ({file}:{line})")
        first = graph[cycle[0]][cycle[1]]
        violations.append(
            Violation(*where(first), "no-cycles", f"import cycle {' -> '.join(cycle)}: {', '.join(steps)}")
        )
    return violations


# -- the project --------------------------------------------------------------------------
def test_the_project_keeps_its_import_rules() -> None:
    violations = check(PROJECT_ROOT)
    assert not violations, "import rules broken:\n" + "\n".join(map(str, violations))


def test_the_checker_sees_the_projects_imports() -> None:
    """Guards against a checker that passes because it reads nothing."""
    modules = {_module_name(PROJECT_ROOT, p) for p in _python_files(PROJECT_ROOT, PACKAGES)}
    edges = {
        (imp.source, imp.target)
        for path in _python_files(PROJECT_ROOT, ("imgpipe_tools", "services"))
        for imp in _imports(PROJECT_ROOT, path, modules)
    }
    assert ("imgpipe_tools.cli", "imgpipe_tools.resources") in edges
    assert ("services.thumbnail.handler", "services.thumbnail.logic") in edges  # a relative import
    assert ("imgpipe_tools.testing.faults", "imgpipe.adapters") in edges


# -- the checker fails when it should ------------------------------------------------------
def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


_RUNTIME_PACKAGE = {"imgpipe/__init__.py": "", "services/__init__.py": ""}


def test_a_cycle_is_reported_with_each_step(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            "imgpipe/adapters.py": "from imgpipe import faults\n",
            # inside a function still counts: it runs on the first call
            "imgpipe/faults.py": "import json\n\n\ndef install():\n    from imgpipe.adapters import client\n",
        },
    )
    (violation,) = check(root)
    assert violation.rule == "no-cycles"
    assert (violation.file, violation.line) == ("imgpipe/adapters.py", 1)
    assert "imgpipe.adapters -> imgpipe.faults -> imgpipe.adapters" in str(violation)
    assert "imgpipe.faults -> imgpipe.adapters (imgpipe/faults.py:5)" in str(violation)


def test_a_service_importing_another_service_is_reported(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            "services/a/__init__.py": "",
            "services/a/handler.py": "from .logic import process\nfrom services.b.logic import process as b\n",
            "services/a/logic.py": "import b.logic\n\n\ndef process():\n    pass\n",
            "services/a/tests/test_logic.py": "from ..logic import process\nfrom services.b import logic\n",
            "services/b/__init__.py": "",
            "services/b/logic.py": "",
        },
    )
    found = sorted(map(str, check(root)))
    assert found == [
        "services/a/handler.py:2: [no-cross-service] service a imports service b (services.b.logic)",
        "services/a/logic.py:1: [no-cross-service] service a imports service b (b.logic)",
        "services/a/tests/test_logic.py:2: [no-cross-service] service a imports service b (services.b.logic)",
    ]


def test_the_runtime_and_services_stay_out_of_the_tooling(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            "imgpipe/config.py": "from imgpipe_tools.testing import fakes\n",
            "imgpipe/wiring.py": (
                "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from imgpipe_tools import resources\n"
            ),
            "imgpipe_tools/__init__.py": "",
            "imgpipe_tools/testing/__init__.py": "",
            "imgpipe_tools/testing/fakes.py": "",
            "imgpipe_tools/resources.py": "",
            "services/a/__init__.py": "",
            "services/a/handler.py": "from services.a.logic import process\nimport infra.stack\n",
            "services/a/logic.py": "from imgpipe.config import x\n",
            "services/a/tests/__init__.py": "",
            "services/a/tests/test_logic.py": "from imgpipe_tools.testing import fakes\nfrom ..logic import x\n",
        },
    )
    found = {(v.file, v.rule) for v in check(root)}
    assert found == {
        ("imgpipe/config.py", "runtime-only"),
        ("services/a/handler.py", "relative-own-imports"),
        ("services/a/handler.py", "no-tooling-in-services"),
    }


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"imgpipe/a.py": "from . import b\n", "imgpipe/b.py": "from .a import x\n"}, ["imgpipe.a", "imgpipe.b"]),
        ({"imgpipe/a.py": "import imgpipe.a\n"}, ["imgpipe.a"]),
        ({"imgpipe/a.py": "from imgpipe import b\n", "imgpipe/b.py": "import json\n"}, None),
    ],
)
def test_relative_and_self_imports_are_resolved(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    cycles = [v for v in check(_tree(tmp_path, {**_RUNTIME_PACKAGE, **files})) if v.rule == "no-cycles"]
    if expected is None:
        assert cycles == []
    else:
        (cycle,) = cycles
        assert all(name in cycle.detail for name in expected)


def test_the_layers_dependencies_are_read_from_pyproject() -> None:
    """Guards against an allowlist that lets everything through, or nothing."""
    layer = layer_modules()
    assert {"boto3", "botocore", "aws_lambda_powertools", "PIL", "pyvips"} <= layer
    assert not {"moto", "numpy", "pytest", "aws_cdk", "jwt"} & layer


def test_shipped_code_imports_only_the_layers_dependencies(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            # moto works in every test and is not in Lambda
            "imgpipe/keys.py": "import json\n\nimport boto3\nimport moto\nfrom botocore.config import Config\n",
            "services/a/__init__.py": "",
            "services/a/logic.py": "import numpy\nfrom aws_lambda_powertools import Logger\n\nfrom imgpipe import x\n",
            # a service's tests and the project's tests never ship: anything goes
            "services/a/tests/test_logic.py": "import moto\nimport numpy\n",
            "tests/test_x.py": "import moto\n",
        },
    )
    found = sorted(map(str, check(root)))
    assert found == [
        "imgpipe/keys.py:4: [layer-dependencies] imgpipe.keys ships in Lambda and imports moto, which is not in "
        "the layer (pyproject.toml's [project] dependencies)",
        "services/a/logic.py:1: [layer-dependencies] services.a.logic ships in Lambda and imports numpy, which is "
        "not in the layer (pyproject.toml's [project] dependencies)",
    ]


def test_only_the_imaging_seam_imports_the_image_libraries(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            "imgpipe/imaging/__init__.py": "",
            "imgpipe/imaging/decode.py": "import pillow_heif\nimport pyvips\nfrom PIL import Image\n",
            "imgpipe/keys.py": "def size(data):\n    from PIL import Image\n",
            "imgpipe_tools/__init__.py": "",
            "imgpipe_tools/review.py": "import pyvips\n",
            "infra/__init__.py": "",
            "infra/site.py": "import PIL.Image\n",
            "services/a/__init__.py": "",
            "services/a/probe.py": "from PIL import Image\n\nfrom imgpipe.imaging import decode\n",
            "services/a/tests/test_probe.py": "from PIL import Image\n",
            "tests/test_x.py": "from PIL import Image\n",
            "bench/__init__.py": "",
            "bench/encoders.py": "import pyvips\n",
        },
    )
    found = {(v.file, v.line, v.rule) for v in check(root)}
    assert found == {
        ("imgpipe/keys.py", 2, "imaging-seam"),
        ("imgpipe_tools/review.py", 1, "imaging-seam"),
        ("infra/site.py", 1, "imaging-seam"),
        ("services/a/probe.py", 1, "imaging-seam"),
    }


def test_infra_reaches_the_tools_only_through_outputs(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            "imgpipe/registry.py": "",
            "imgpipe_tools/__init__.py": "",
            "imgpipe_tools/outputs.py": "",
            "imgpipe_tools/local/__init__.py": "",
            "imgpipe_tools/local/provision.py": "",
            "infra/__init__.py": "",
            "infra/stack.py": (
                "from imgpipe import registry\nfrom imgpipe_tools import outputs\n"
                "from imgpipe_tools.outputs import x\nfrom imgpipe_tools.local import provision\n"
            ),
            "infra/components/__init__.py": "",
            "infra/components/thumbnail.py": "from services.a.settings import Settings\nimport tests.synth\n",
            "services/a/__init__.py": "",
            "services/a/settings.py": "",
        },
    )
    found = {(v.file, v.line, v.rule) for v in check(root)}
    assert found == {
        ("infra/stack.py", 4, "infra-imports"),
        ("infra/components/thumbnail.py", 1, "infra-imports"),
        ("infra/components/thumbnail.py", 2, "infra-imports"),
    }


def test_the_tools_reach_services_only_by_discovery(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **_RUNTIME_PACKAGE,
            "imgpipe/registry.py": "",
            "imgpipe_tools/__init__.py": "",
            "imgpipe_tools/local/__init__.py": "",
            # by its module path, as Lambda loads it: fine
            "imgpipe_tools/local/invoker.py": (
                "import importlib\n\nfrom imgpipe import registry\n\n"
                "handler = importlib.import_module('services.a.handler')\n"
            ),
            "imgpipe_tools/local/tracker.py": "from services.a.marks import email_wanted\nfrom infra import params\n",
            "imgpipe_tools/testing/__init__.py": "",
            "imgpipe_tools/testing/fakes.py": "from tests.events import load\n",
            "infra/__init__.py": "",
            "infra/params.py": "",
            "services/a/__init__.py": "",
            "services/a/marks.py": "",
        },
    )
    found = {(v.file, v.line, v.rule) for v in check(root)}
    assert found == {
        ("imgpipe_tools/local/tracker.py", 1, "tools-imports"),
        ("imgpipe_tools/local/tracker.py", 2, "tools-imports"),
        ("imgpipe_tools/testing/fakes.py", 1, "tools-imports"),
    }


def lambda_handlers(root: Path, package: str) -> list[str]:
    """The module-level ``handler(event, context)`` functions of ``package``: a Lambda entry point
    belongs in a folder of its own (a service's, backfill's), never in the runtime."""
    found = []
    for path in _python_files(root, (package,)):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name == "handler":
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_no_lambda_handler_lives_in_the_runtime(tmp_path: Path) -> None:
    assert lambda_handlers(PROJECT_ROOT, RUNTIME) == []
    _tree(tmp_path, {"imgpipe/__init__.py": "", "imgpipe/jobs.py": "def handler(event, context):\n    pass\n"})
    assert lambda_handlers(tmp_path, RUNTIME) == ["imgpipe/jobs.py:1"]
