"""The scheduling service keeps the file kit of docs/architecture.md: no source module over 500 lines,
no function over 60, and no route or rendering module that runs a query."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "services" / "scheduling" / "src" / "scheduling"


def test_no_module_over_500_lines_and_no_function_over_60() -> None:
    too_long = []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 500:
            too_long.append(f"{path.relative_to(SOURCE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    too_long.append(f"{path.relative_to(SOURCE)}:{node.lineno} {node.name}: {lines} lines")
    assert too_long == []


def test_routes_and_rendering_import_no_query_builder() -> None:
    for path in [*sorted((SOURCE / "web").glob("*.py")), SOURCE / "pages.py"]:
        imported = {
            alias.name if isinstance(node, ast.Import) else (node.module or "")
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert not {name for name in imported if name.split(".")[0] in ("sqlalchemy", "sqlmodel")}, path.name
