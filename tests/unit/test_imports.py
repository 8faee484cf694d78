"""Imports go one way, and this test holds them there.

- The runtime package ``imgpipe`` (the only project code in the Lambda layer) never imports the
  developer tooling, the CDK app, the services, the tests or the bench.
- A service imports the runtime and its own modules (relatively: in Lambda the folder ships as the
  top-level package ``<name>``, so ``services.<name>`` does not exist there), never another
  service and never the tooling, the CDK app or the tests. Its own ``tests/`` folder may use test
  support, but not another service either.
- No import cycles anywhere in the project. Imports inside functions count (they run too); only
  ``if TYPE_CHECKING:`` blocks are left out, as they never run.

The checker reads the source with ``ast``: nothing is imported, so it also sees modules whose
imports would fail. The last tests run it on small made-up trees to show that it does fail.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("imgpipe", "imgpipe_tools", "services", "infra", "bench", "tests")
RUNTIME = "imgpipe"
#: what neither the runtime nor a service's code may import
TOOLING = ("imgpipe_tools", "infra", "tests", "bench")
_SKIP_DIRS = {"__pycache__", ".venv", "node_modules", "cdk.out"}


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


def _layer_rules(imp: Import, service_names: set[str]) -> tuple[str, str] | None:
    """The rule ``imp`` breaks and why, if it breaks one."""
    if _top(imp.source) == RUNTIME and _top(imp.target) in (*TOOLING, "services"):
        return "runtime-only", f"the runtime package imports {imp.target}, which never ships in the layer"
    service = _service_of(imp.source, service_names)
    if service is None:
        return None
    in_its_tests = imp.source.split(".")[2:3] == ["tests"]
    target_top = _top(imp.target)
    other = _service_of(imp.target, service_names) if target_top == "services" else target_top
    if other in service_names and other != service:
        return "no-cross-service", f"service {service} imports service {other} ({imp.target})"
    if in_its_tests:
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
            broken = _layer_rules(imp, service_names)
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
