"""A fresh machine: `make bootstrap` from a new clone, with a HOME and a PATH that hold no uv, works
on the first run (issue 10: `pip install uv` as root put uv where the Makefile did not look)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.config import REPO


def _path_without_uv(bin_dir: Path) -> str:
    """Only a Python 3.11 (linked into `bin_dir`) and the system's directories: no uv, no pyenv shims."""
    bin_dir.mkdir()
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (bin_dir / "python3").symlink_to(python)
    (bin_dir / "python3.11").symlink_to(python)
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None, "the test PATH must not hold a uv"
    return path


def test_make_bootstrap_works_first_time_on_a_clone_with_no_uv_anywhere(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    home = tmp_path / "home"
    home.mkdir()
    # The machine's own settings (its certificate bundle, pip's timeouts) stay; what a session may
    # have installed by hand (uv, a venv, make's variables) does not.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("UV_", "VIRTUAL_ENV", "PYENV", "MAKE", "MFLAGS", "PYTEST", "HLM360_"))
    }
    env |= {
        "HOME": str(home),
        "PATH": _path_without_uv(tmp_path / "bin"),
        # the package caches are not uv: sharing them keeps this test quick, nothing else
        "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv")),
        "npm_config_cache": str(Path.home() / ".npm"),
    }
    assert not (clone / ".local").exists()

    first = subprocess.run(["make", "bootstrap"], cwd=clone, env=env, capture_output=True, text=True, timeout=900)

    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    uv = clone / ".local" / "tools" / "uv" / "bin" / "uv"
    assert subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout.startswith("uv ")
    python = clone / ".venv" / "bin" / "python"
    imported = subprocess.run(
        [str(python), "-c", "import invitations, ratings, reports, scheduling, shared"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert (clone / "shared" / "web" / "static" / "nhsuk-frontend.min.css").exists()
    again = subprocess.run(["make", "bootstrap"], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "uv " not in again.stdout, "a second run must not reinstall uv"
