"""The layers of docs/architecture.md, checked on the import graph (transitively, through shared/ and
the service's own modules): table modules and the mail outbox's data side import no web or broker
framework, and domain modules import no database, web or broker framework either."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations")
# The operators' tooling (services/console): the same kit names where it has them (docs/architecture.md).
CONSOLE = "console"
WEB_OR_BROKER = {"fastapi", "starlette", "faststream", "aiokafka", "uvicorn"}
STORAGE = {"sqlalchemy", "sqlmodel", "asyncpg", "alembic"}


def _file_of(module: str) -> Path | None:
    """The source file of a first-party module (shared.* or a service package), else None."""
    parts = module.split(".")
    if parts[0] == "shared":
        base = ROOT
    elif parts[0] in (*SERVICES, CONSOLE):
        base = ROOT / "services" / parts[0] / "src"
    else:
        return None
    path = base.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    parts = list(relative.with_suffix("").parts)
    if parts[0] == "services":
        parts = parts[3:]  # services/<name>/src/<name>/...
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _direct_imports(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            # `from shared import mail` imports the module shared.mail
            found.update(f"{target}.{alias.name}" for alias in node.names if _file_of(f"{target}.{alias.name}"))
    return frozenset(found)


def imports_closure(path: Path) -> dict[str, str]:
    """Every module `path` imports, directly or through first-party modules: name -> importing file."""
    seen: dict[str, str] = {}
    todo = [path]
    visited: set[Path] = set()
    while todo:
        current = todo.pop()
        if current in visited:
            continue
        visited.add(current)
        for name in _direct_imports(current):
            seen.setdefault(name, str(current.relative_to(ROOT)))
            if (source := _file_of(name)) is not None:
                todo.append(source)
            # a submodule import also runs its packages' __init__
            parent = name.rpartition(".")[0]
            while parent:
                if (init := _file_of(parent)) is not None:
                    todo.append(init)
                parent = parent.rpartition(".")[0]
    return seen


def _forbidden(path: Path, roots: set[str]) -> list[str]:
    return sorted(f"{name} (via {via})" for name, via in imports_closure(path).items() if name.split(".")[0] in roots)


def _table_modules() -> list[Path]:
    return [ROOT / "services" / s / "src" / s / "tables.py" for s in SERVICES] + [
        ROOT / "shared" / "mail_outbox.py",
        ROOT / "shared" / "db.py",
    ]


def _domain_modules() -> list[Path]:
    found: list[Path] = []
    for service in (*SERVICES, CONSOLE):
        package = ROOT / "services" / service / "src" / service
        found += [package / "domain.py"] if (package / "domain.py").is_file() else []
        found += sorted((package / "domain").glob("*.py"))
    return found


@pytest.mark.parametrize("path", _table_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_tables_import_no_web_or_broker_framework(path: Path) -> None:
    assert _forbidden(path, WEB_OR_BROKER) == []


@pytest.mark.parametrize("path", _domain_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_is_pure(path: Path) -> None:
    assert _forbidden(path, WEB_OR_BROKER | STORAGE) == []


def test_the_check_sees_an_import_through_shared() -> None:
    # the mail sender reaches FastAPI through shared.service: the check must see it
    assert any(name.startswith("fastapi") for name in imports_closure(ROOT / "shared" / "mail_sender.py"))


def test_every_service_has_tables_and_a_domain() -> None:
    assert all(p.is_file() for p in _table_modules())
    packages = {p.parts[-3] if p.parent.name == "domain" else p.parts[-2] for p in _domain_modules()}
    assert packages == {*SERVICES, CONSOLE}


# --- the kit table: which of its own modules each kit file may import ------------------------------

# A service's own extras (ics, pdf, itembank, bench, questionnaire: named in its README) are helpers
# any layer above domain may use.
EXTRAS = {"ics", "pdf", "itembank", "bench", "questionnaire"}
MAY_IMPORT: dict[str, set[str]] = {
    "main": {"*"},
    "__main__": {"cli", "config"},
    "cli": {"usecases", "forms", "links", "config", "demo_seed"},
    "web": {"usecases", "forms", "pages", "links", "domain", "tables", "config", "web/deps"},
    "web/deps": {"usecases", "pages", "links", "domain", "config"},
    "handlers": {"usecases", "config"},
    "jobs": {"usecases", "emails", "tables", "config", "demo_seed"},
    "demo_seed": {"usecases", "tables", "forms", "config"},
    "usecases": {"domain", "tables", "emails", "links", "forms", "pages", "config"},
    "forms": {"domain", "config"},
    "pages": {"domain", "forms", "config"},
    "emails": {"domain", "tables", "links", "config"},
    "links": set(),
    "tables": {"domain"},
    "domain": set(),
    "config": {"domain"},
}
# pages render what use cases return: they may name those types, for type checking only
TYPING_ONLY = {"pages": {"tables", "usecases"}}
# The console's own rows: `deadletters` is its use cases over Kafka (it has no database), and its
# command line shows the typed values of `domain` (the rules a later web console reuses).
# The web console (issue 13 item 4) adds its pages: `pipeline` is pure (the stages of the lifecycle
# events), `lifecycle` and `prometheus` read Kafka and Prometheus, `session` signs the sign-in cookie.
CONSOLE_MAY_IMPORT: dict[str, set[str]] = {
    "main": {"*"},
    "__main__": {"cli"},
    "cli": {"deadletters", "domain", "config"},
    "deadletters": {"domain", "config"},
    "web": {"pages", "session", "prometheus", "pipeline", "lifecycle", "deadletters", "domain", "config", "web/deps"},
    "web/deps": {"session", "lifecycle", "deadletters", "config"},
    "pages": {"pipeline", "prometheus", "domain"},
    "lifecycle": {"pipeline"},
    "prometheus": set(),
    "session": set(),
    "domain": set(),
    "pipeline": set(),
    "config": {"pipeline"},
}


def _kit_name(service: str, parts: tuple[str, ...]) -> str:
    if parts[0] == "web" and len(parts) > 1 and parts[1] == "deps":
        return "web/deps"
    return parts[0]


def _runtime_and_typing_imports(path: Path, service: str) -> tuple[set[str], set[str]]:
    """The service's own kit names `path` imports at run time, and under TYPE_CHECKING only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    runtime: set[str] = set()
    typing: set[str] = set()
    package = ROOT / "services" / service / "src" / service
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
            continue
        for name in [node.module] + [f"{node.module}.{a.name}" for a in node.names]:
            parts = tuple(name.split("."))
            if parts[0] != service or len(parts) < 2:
                continue
            if not ((package / parts[1]).is_dir() or (package / f"{parts[1]}.py").is_file()):
                continue
            (typing if id(node) in typing_nodes else runtime).add(_kit_name(service, parts[1:]))
    return runtime, typing


@pytest.mark.parametrize("service", [*SERVICES, CONSOLE])
def test_every_module_imports_only_what_the_kit_table_allows(service: str) -> None:
    package = ROOT / "services" / service / "src" / service
    table = CONSOLE_MAY_IMPORT if service == CONSOLE else MAY_IMPORT
    departures = []
    for path in sorted(package.rglob("*.py")):
        kit = _kit_name(service, path.relative_to(package).with_suffix("").parts)
        if kit in EXTRAS or kit == "__init__":
            continue
        assert kit in table, f"{path.relative_to(ROOT)}: not a kit file name (docs/architecture.md)"
        allowed = table[kit] | EXTRAS | {kit}
        runtime, typing = _runtime_and_typing_imports(path, service)
        bad = runtime - allowed if "*" not in allowed else set()
        bad |= typing - allowed - TYPING_ONLY.get(kit, set())
        departures += [f"{path.relative_to(ROOT)} imports {name}" for name in sorted(bad)]
    assert departures == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_imports_no_other_service_nor_the_console(service: str) -> None:
    """Services share only shared/ (contracts included); the console may call into them, never the reverse."""
    others = {*SERVICES, CONSOLE} - {service}
    package = ROOT / "services" / service / "src" / service
    found = sorted(
        f"{path.relative_to(ROOT)} imports {name}"
        for path in package.rglob("*.py")
        for name in _direct_imports(path)
        if name.split(".")[0] in others
    )
    assert found == []
