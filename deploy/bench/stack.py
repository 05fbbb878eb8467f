"""The running local stack as the load sees it: its settings, the front door, the services'
databases and `deploy/local/services.sh` (scale, kill one instance)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import asyncpg
import httpx
from pydantic import SecretStr

from deploy.demo.journey import REPO, JourneySettings

# The checkout whose local stack this is: a git worktree shares the main checkout's .local (a
# symlink), and the stack is driven by that checkout's scripts (its front door's pid file and its
# services' interpreter are named by that checkout's paths).
STACK_REPO = (REPO / ".local").resolve().parent
SERVICES_SH = STACK_REPO / "deploy" / "local" / "services.sh"


class BenchSettings(JourneySettings):
    """The demo journey's settings, with the front door and the two databases the load checks."""

    hlm360_local_dir: Path = REPO / ".local"
    hlm360_frontdoor_url: str = "https://localhost:8443"
    hlm360_frontdoor_ca: Path = REPO / ".local" / "frontdoor" / "ca.pem"
    ratings_database_url: SecretStr
    reports_database_url: SecretStr


def front_door(settings: BenchSettings, *, connections: int) -> httpx.AsyncClient:
    """An HTTPS client of the front door that trusts the local CA, with `connections` kept open."""
    tls = ssl.create_default_context(cafile=str(settings.hlm360_frontdoor_ca))
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=settings.hlm360_frontdoor_url, verify=tls, limits=limits, timeout=30.0)


async def connect(url: SecretStr) -> asyncpg.Connection:
    """A plain asyncpg connection from a service's SQLAlchemy URL."""
    return await asyncpg.connect(url.get_secret_value().replace("+asyncpg", ""))


def services(*args: str, timeout: float = 300.0) -> None:
    """Run `services.sh` with `args`; raise with the end of its output if it fails."""
    command = [shutil.which("bash") or "/bin/bash", str(SERVICES_SH), *args]
    # cwd: the front door's script runs `python -m deploy.frontdoor.nginx` from where it is called
    done = subprocess.run(command, cwd=STACK_REPO, capture_output=True, text=True, timeout=timeout)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"services.sh {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def scale(**instances: int) -> None:
    """Exactly this many instances of each named service, each healthy, behind the front door."""
    services("scale", *(f"{service}={count}" for service, count in instances.items()))


def kill(instance: str) -> None:
    """SIGKILL one instance's process group (a crash); it stays down until the next start or scale."""
    services("kill", instance)


def instance_pids(local_dir: Path, service: str) -> dict[str, int]:
    """The pid of each of the service's instances that has a pid file (`ratings`, `ratings.2`, ...)."""
    pids: dict[str, int] = {}
    for path in [local_dir / "run" / f"{service}.pid", *(local_dir / "run").glob(f"{service}.[0-9].pid")]:
        text = path.read_text().strip() if path.exists() else ""
        if text.isdigit():
            pids[path.stem] = int(text)
    return pids
