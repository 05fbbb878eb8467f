"""Migrations change the schema and move data that is already there; they never write rows of their
own (ADR 11: demo people come from `python -m scheduling seed-demo`, regional leads are managed data).

Read from each migration's syntax tree: `op.bulk_insert`, an `insert(...)` construct, `.values(...)`
(literal values for an insert or an update), SQL text with `INSERT INTO ... VALUES`, and a fixed id
(a UUID literal: a row about someone). `INSERT INTO ... SELECT` and `UPDATE ... SET a = b` move data
and are allowed."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = sorted(REPO.glob("services/*/migrations/versions/*.py"))

_INSERT_VALUES = re.compile(r"\bINSERT\s+INTO\b.*?\bVALUES\b", re.IGNORECASE | re.DOTALL)
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)


def _called(node: ast.Call) -> str:
    function = node.func
    return (
        function.attr if isinstance(function, ast.Attribute) else function.id if isinstance(function, ast.Name) else ""
    )


def _texts(tree: ast.AST) -> list[str]:
    """Every string literal, with an f-string's literal parts joined (so SQL split by placeholders reads whole)."""
    inside_fstrings = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    texts = [
        "".join(p.value if isinstance(p, ast.Constant) and isinstance(p.value, str) else " ? " for p in node.values)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
    ]
    texts += [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstrings
    ]
    return texts


def rows_written(source: str) -> list[str]:
    """What in a migration's source writes rows of its own (empty: it writes none)."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called(node)
            if name in ("bulk_insert", "insert", "values", "UUID"):
                found.append(f"line {node.lineno}: {name}(...)")
    for text in _texts(tree):
        if _INSERT_VALUES.search(text):
            found.append(f"SQL inserting literal VALUES: {' '.join(text.split())[:80]}")
        if _UUID.search(text):
            found.append(f"a fixed id: {_UUID.search(text).group(0)}")  # type: ignore[union-attr]
    return found


def test_there_are_migrations_to_read() -> None:
    services = {path.parts[-4] for path in MIGRATIONS}
    assert services == {"invitations", "observations", "ratings", "reports", "scheduling"}, services


@pytest.mark.parametrize("path", MIGRATIONS, ids=lambda path: f"{path.parts[-4]}/{path.name}")
def test_no_migration_writes_rows_of_its_own(path: Path) -> None:
    assert rows_written(path.read_text()) == []


# Migration sources (module level is enough for the check).
WRITES_ROWS = {
    "the former demo facilitators": (
        "F = [{'id': UUID('9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d'), 'name': 'A'}]\n"
        "op.execute(postgresql.insert(facilitator).values(F).on_conflict_do_nothing())\n"
    ),
    "bulk_insert": "op.bulk_insert(lead, [{'region': 'London', 'name': 'N'}])\n",
    "table.insert()": "op.execute(lead.insert())\n",
    "an update with literal values": "op.execute(f.update().where(f.c.region == 'x').values(capacity=40))\n",
    "INSERT ... VALUES": "op.execute(\"INSERT INTO s.lead (region, name) VALUES ('London', 'N')\")\n",
    "INSERT ... VALUES in an f-string": 'op.execute(f"INSERT INTO {S}.lead (region) "\n    f"VALUES (\'{R}\')")\n',
    "insert into ... values, lower case": "op.execute(sa.text('insert into t values (1)'))\n",
    "a fixed id in an update": "op.execute(\"UPDATE f SET n = 0 WHERE id = '3f6d2a8e-51c4-4b7a-9e0d-6c2b8a4f1e37'\")",
}
MOVES_DATA = {
    "INSERT ... SELECT": (
        'op.execute("""\n    INSERT INTO s.booking_request (cycle_id, created_at)\n'
        '    SELECT cycle_id, first_seen_at FROM s.unscheduled_cycle WHERE scheduled_at IS NULL\n""")\n'
    ),
    "UPDATE ... SET a = b": "op.execute('UPDATE invitations.cycle SET original_deadline = deadline')\n",
    "DELETE": "op.execute('DELETE FROM ratings.rater WHERE link_token_sha256 IS NULL')\n",
    "schema": (
        "op.add_column('facilitator', sa.Column('phone', sa.String), schema=S)\n"
        "op.create_index('ix', 'slot', ['starts_at'], postgresql_where=sa.text(\"status <> 'cancelled'\"))\n"
    ),
}


@pytest.mark.parametrize("source", WRITES_ROWS.values(), ids=list(WRITES_ROWS))
def test_the_check_finds_rows_written(source: str) -> None:
    assert rows_written(source) != []


@pytest.mark.parametrize("source", MOVES_DATA.values(), ids=list(MOVES_DATA))
def test_the_check_allows_moving_data_and_changing_the_schema(source: str) -> None:
    assert rows_written(source) == []
