import sys
from pathlib import Path

from reports.config import Settings
from shared.service import cli

cli(
    factory="reports.main:create_app",
    settings=Settings(),  # type: ignore[call-arg]
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    argv=sys.argv,
)
