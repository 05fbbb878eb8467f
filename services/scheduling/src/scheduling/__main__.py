import sys
from pathlib import Path

from scheduling.config import Settings
from shared.service import cli

if len(sys.argv) > 1 and sys.argv[1] == "links":
    from scheduling.links import print_links, renew

    if sys.argv[2:3] == ["renew"]:
        raise SystemExit(renew(Settings(), sys.argv[3:]))  # type: ignore[call-arg]
    print_links(Settings())  # type: ignore[call-arg]
    raise SystemExit(0)

cli(
    factory="scheduling.main:create_app",
    settings=Settings(),  # type: ignore[call-arg]
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    argv=sys.argv,
)
