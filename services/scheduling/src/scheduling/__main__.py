import sys
from pathlib import Path

from scheduling.config import Settings
from shared.service import cli

cli(
    factory="scheduling.main:create_app",
    settings=Settings(),  # type: ignore[call-arg]
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    argv=sys.argv,
)
