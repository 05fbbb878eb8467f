import sys
from pathlib import Path

from invitations.config import Settings
from shared.service import cli

cli(
    factory="invitations.main:create_app",
    settings=Settings(),  # type: ignore[call-arg]
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    argv=sys.argv,
)
