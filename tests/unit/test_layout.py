"""Who may import whom, beyond the contracts import-linter holds over the packages (test_contracts.py):
nothing shipped imports the `onetrip` command (app.py); benchmarks never import tests; and no test imports
another test module: what tests and benchmarks share lives in `harness/`, shared fixtures in a conftest."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("storage", "sync", "provisioning", "node", "web")


def imported(source: str, package: tuple[str, ...]) -> set[str]:
    """Every module `source` imports, relative imports resolved against its package."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def offenders(folder: str, wrong) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in sorted(imported(path.read_text("utf-8"), path.relative_to(ROOT).parts[:-1]))
        if wrong(name)
    ]


def is_test_module(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1]
    return name.startswith("tests.") and (leaf.startswith("test_") or leaf == "conftest")


def test_nothing_shipped_imports_the_command():
    assert [o for package in SHIPPED for o in offenders(package, lambda name: name.split(".")[0] == "app")] == []


def test_benchmarks_never_import_tests():
    assert offenders("bench", lambda name: name.split(".")[0] == "tests") == []


def test_no_test_imports_another_test_module():
    assert offenders("tests", is_test_module) + offenders("harness", lambda name: name.startswith("tests")) == []


def test_the_check_sees_a_relative_import_of_a_test_module():
    """The resolver itself: `from .test_api import x` inside tests/integration names tests.integration.test_api."""
    names = imported("from .test_api import intake\n", ("tests", "integration"))
    assert "tests.integration.test_api" in names and is_test_module("tests.integration.test_api")
