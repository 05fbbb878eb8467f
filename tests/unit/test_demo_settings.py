"""Demo data stays in the demo (ADR 11): the demo's availability job is off unless the demo
environment turns it on, production-like configurations never seed, and the local stack (the demo
and test environment) does."""

import re

from scheduling.config import Settings
from tests.config import REPO


def test_seeding_availability_is_off_by_default() -> None:
    assert Settings.model_fields["seed_availability"].default is False


def test_the_container_configuration_does_not_seed() -> None:
    compose = (REPO / "docker-compose.yml").read_text()
    assert "SEED_AVAILABILITY" not in compose.upper() and "seed-demo" not in compose
    for path in (REPO / "deploy").rglob("*"):
        if path.is_file() and path.suffix in (".yml", ".yaml", ".sql") and "node_modules" not in path.parts:
            text = path.read_text()
            assert "SEED_AVAILABILITY" not in text.upper() and "seed-demo" not in text, path


def test_the_local_stack_is_the_demo_environment_and_is_seeded_by_make_up() -> None:
    assert 'echo "SCHEDULING_SEED_AVAILABILITY=true"' in (REPO / "deploy" / "local" / "stack.sh").read_text()
    makefile = (REPO / "Makefile").read_text()
    up = re.search(r"^up: .*?\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert up is not None
    steps = up.group(1).splitlines()
    assert steps[-1].endswith("$(PY) -m scheduling seed-demo") and "services.sh up" in steps[0]
    for target in ("demo", "test", "test-e2e", "test-browser"):
        assert re.search(rf"^{target}: up$", makefile, re.MULTILINE), target
