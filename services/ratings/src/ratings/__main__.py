import sys
from pathlib import Path

from ratings.config import Settings
from shared.service import cli

cli(
    factory="ratings.main:create_app",
    settings=Settings(),  # type: ignore[call-arg]
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    argv=sys.argv,
)
