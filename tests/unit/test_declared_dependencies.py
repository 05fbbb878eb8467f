"""Every third-party package a library imports is declared by that library's pyproject (shared by
the root project, a service by its own or by `hlm360`, which it depends on)."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY = {"shared", "invitations", "ratings", "reports", "scheduling", "console", "deploy", "tests"}


def _declared(pyproject: Path) -> set[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {}).values()
    dependencies = [*project["dependencies"], *(d for extra in optional for d in extra)]
    return {re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0].lower().replace("_", "-") for d in dependencies}


def _imported_distributions(source: Path) -> dict[str, set[str]]:
    """Imported top-level module -> the distributions that provide it (third-party imports only;
    a namespace package such as `opentelemetry` has several)."""
    by_module = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY or top in sys.stdlib_module_names:
                    continue
                found[top] = {d.lower().replace("_", "-") for d in by_module.get(top, [top])}
    return found


# What a declared package brings with it by design (FastAPI is Starlette; pydantic is pydantic-core).
PROVIDED_BY = {
    "starlette": "fastapi",
    "pydantic-core": "pydantic",
    "typing-extensions": "pydantic",
    "opentelemetry-api": "opentelemetry-sdk",
}


def _undeclared(imported: dict[str, set[str]], declared: set[str]) -> dict[str, set[str]]:
    """The imports none of whose distributions is declared."""
    return {
        top: distributions
        for top, distributions in imported.items()
        if not any(d in declared or PROVIDED_BY.get(d) in declared for d in distributions)
    }


def test_shared_declares_what_it_imports() -> None:
    assert _undeclared(_imported_distributions(REPO / "shared"), _declared(REPO / "pyproject.toml")) == {}


@pytest.mark.parametrize("service", ["invitations", "ratings", "reports", "scheduling", "console"])
def test_each_service_declares_what_it_imports(service: str) -> None:
    declared = _declared(REPO / "services" / service / "pyproject.toml") | _declared(REPO / "pyproject.toml")
    imported = _imported_distributions(REPO / "services" / service / "src")
    assert _undeclared(imported, declared) == {}
