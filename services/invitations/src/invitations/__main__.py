import sys
from pathlib import Path

from invitations.config import Settings
from shared.service import cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"

if len(sys.argv) > 1 and sys.argv[1] in ("import-cohort", "credits"):
    from invitations.cohort import main
    from shared.migrations import upgrade

    settings = Settings()  # type: ignore[call-arg]
    upgrade(MIGRATIONS, settings.database_url.get_secret_value())
    sys.exit(main(sys.argv[1:], settings=settings))

cli(
    factory="invitations.main:create_app",
    settings=Settings(),  # type: ignore[call-arg]
    migrations=MIGRATIONS,
    argv=sys.argv,
)
