"""Every command line answers `--help` with its usage and exit status 0 from an empty environment (only
PATH and HOME): reading settings would fail there, so help never reads them, never migrates a
database and never connects to Kafka. Also: a command that prints personal links needs a choice."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HLM360 = Path(sys.executable).parent / "hlm360"
EMPTY = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "COLUMNS": "120"}

MODULE_HELP = [
    ("invitations",),
    ("invitations", "import-cohort"),
    ("invitations", "credits"),
    ("invitations", "rollback"),
    ("ratings",),
    ("ratings", "rollback"),
    ("ratings", "migrate"),
    ("reports",),
    ("reports", "serve"),
    ("scheduling",),
    ("scheduling", "links"),
    ("scheduling", "links", "renew"),
    ("scheduling", "regional-lead"),
    ("scheduling", "regional-lead", "list"),
    ("scheduling", "seed-demo"),
    ("observations",),
    ("observations", "migrate"),
    ("shared.cli",),
]
HLM360_HELP = [
    (),
    ("dead-letters",),
    ("dead-letters", "list"),
    ("dead-letters", "show"),
    ("dead-letters", "replay"),
    ("dead-letters", "discard"),
    ("dead-letters", "audit"),
    ("topics",),
    ("topics", "ensure"),
    ("invitations",),
    ("invitations", "import-cohort"),
    ("ratings", "rollback"),
    ("reports",),
    ("scheduling", "links"),
    ("scheduling", "links", "renew"),
    ("observations", "rollback"),
]


ASKED = "0 if confirm('x?', yes=False) else 1"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=EMPTY, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def helps() -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    """Every `--help` above, run at once (each is a new interpreter: a second or so)."""
    commands = [(sys.executable, "-m", *words, "--help") for words in MODULE_HELP]
    commands += [(str(HLM360), *words, "--help") for words in HLM360_HELP]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(commands, pool.map(lambda command: run(*command), commands), strict=True))


@pytest.mark.parametrize("words", MODULE_HELP, ids=" ".join)
def test_python_m_help_needs_nothing(words: tuple[str, ...], helps: dict[tuple[str, ...], Any]) -> None:
    done = helps[(sys.executable, "-m", *words, "--help")]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m "), done.stdout
    assert "Traceback" not in done.stderr and done.stderr == ""


@pytest.mark.parametrize("words", HLM360_HELP, ids=lambda w: " ".join(w) or "hlm360")
def test_hlm360_help_needs_nothing(words: tuple[str, ...], helps: dict[tuple[str, ...], Any]) -> None:
    done = helps[(str(HLM360), *words, "--help")]
    assert done.returncode == 0, done.stderr
    assert done.stdout.lower().startswith("usage: hlm360"), done.stdout
    assert "Traceback" not in done.stderr


def test_hlm360_without_arguments_shows_its_commands() -> None:
    done = run(str(HLM360))
    assert "dead-letters" in done.stdout + done.stderr and "scheduling" in done.stdout + done.stderr
    service = run(str(HLM360), "ratings")
    assert service.returncode == 0 and service.stdout.startswith("usage: hlm360 ratings"), "help, never serving"


def test_personal_links_are_printed_only_for_people_chosen() -> None:
    done = run(sys.executable, "-m", "scheduling", "links")
    assert done.returncode == 2 and "--lead ID, --facilitator ID" in done.stderr and done.stdout == ""


def test_a_command_without_its_settings_names_what_is_missing_without_a_traceback() -> None:
    done = run(sys.executable, "-m", "ratings", "migrate")
    assert done.returncode == 2 and "RATINGS_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr
    login = run(str(HLM360), "dead-letters", "list")
    assert login.returncode == 2 and "HLM360_KAFKA_USERNAME" in login.stderr


def test_destructive_commands_refuse_without_a_terminal_or_yes() -> None:
    from shared.commands import confirm

    assert confirm("drop everything?", yes=True)
    done = subprocess.run(
        [sys.executable, "-c", f"from shared.commands import confirm; raise SystemExit({ASKED})"],
        env=EMPTY,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "add --yes" in done.stderr
