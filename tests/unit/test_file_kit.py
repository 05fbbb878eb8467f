"""Every service keeps the file kit of docs/architecture.md: no source module over 500 lines, no
function over 60, and no route or rendering module that runs a query."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations", "console")


@pytest.mark.parametrize("service", [*SERVICES, "console"])
def test_no_module_over_500_lines_and_no_function_over_60(service: str) -> None:
    source = REPO / "services" / service / "src" / service
    too_long = []
    for path in sorted(source.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 500:
            too_long.append(f"{path.relative_to(source)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    too_long.append(f"{path.relative_to(source)}:{node.lineno} {node.name}: {lines} lines")
    assert too_long == []


def test_shared_keeps_the_file_kit_too() -> None:
    """The contracts and platform code every service imports: no module over 500 lines, no function over 60
    (the events are one module per aggregate, re-exported by shared.contracts.events)."""
    too_long = []
    for path in sorted((REPO / "shared").rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 500:
            too_long.append(f"{path.relative_to(REPO)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > 60:
                too_long.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert too_long == []
    assert (REPO / "shared" / "contracts" / "events" / "__init__.py").is_file()


@pytest.mark.parametrize("service", SERVICES)
def test_routes_and_rendering_import_no_query_builder(service: str) -> None:
    source = REPO / "services" / service / "src" / service
    web = sorted((source / "web").glob("*.py")) if (source / "web").is_dir() else [source / "web.py"]
    for path in [*web, source / "pages.py"]:
        imported = {
            alias.name if isinstance(node, ast.Import) else (node.module or "")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        builders = {name for name in imported if name.split(".")[0] in ("sqlalchemy", "sqlmodel")}
        assert builders <= {"sqlalchemy.exc"}, path.name  # catching a database error is not a query


def _imports_demo_seed(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names = {f"{node.module}.{alias.name}" for alias in node.names} | {node.module or ""}
        elif isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        else:
            continue
        if "scheduling.demo_seed" in names:
            return True
    return False


def test_demo_data_is_reached_only_from_the_command_line_and_the_demo_availability_job() -> None:
    """ADR 11: the demo's people are not production data; serving code never imports them."""
    source = REPO / "services" / "scheduling" / "src" / "scheduling"
    importers = [
        path.relative_to(source).as_posix() for path in sorted(source.rglob("*.py")) if _imports_demo_seed(path)
    ]
    assert importers == ["cli.py", "jobs.py"]
