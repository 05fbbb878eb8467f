"""Fuzz tier: hypothesis-generated messages to every consumer of the four services, running
in-process (as in the integration tier, whose stack fixtures this reuses) on this run's own topic
namespace. HLM360_FUZZ_EXAMPLES sets the examples per consumer and strategy (default 20;
`make fuzz` runs more).

    set -a && . .local/env && set +a && HLM360_TOPIC_NAMESPACE=itest-fuzz-$(date +%s) \\
        .venv/bin/python -m pytest tests/fuzz -q -s
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from shared.contracts.topics import NAMESPACE
from tests.config import StackSettings, use_operator_kafka_login
from tests.fuzz.strategies import EXAMPLES, SEED, STRATEGIES, draw_examples, registered_subscriptions
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.conftest import settings as settings  # the stack, with this run's topics
from tests.integration.scheduling_support import seed_demo_people

SECRET = "fuzz-tier-link-secret-" + "f" * 40


@pytest.fixture(scope="session", autouse=True)
def own_topic_namespace() -> None:
    if NAMESPACE == "hlm360":
        pytest.fail("the fuzz tier needs its own topics: set HLM360_TOPIC_NAMESPACE (make test and make fuzz do)")


class SinkHandler:
    """Accepts every email: the in-process services may invite fuzzed people; none reach .local/mail."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received += 1
        return "250 Message accepted"


@pytest.fixture(scope="module")
def smtp_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(SinkHandler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@dataclass
class FuzzReport:
    """Examples drawn and sent, for the closing summary."""

    drawn: dict[str, dict[str, list[bytes]]] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    per_event: dict[str, dict[str, int]] = field(default_factory=dict)
    draw_seconds: float = 0.0


@pytest.fixture(scope="module")
def examples() -> FuzzReport:
    """Every strategy's examples for every consumed event type, drawn before any service starts
    (hypothesis runs synchronously and would stall the services' event loop)."""
    started = time.monotonic()
    report = FuzzReport()
    for event_type in sorted({s.event_type for s in registered_subscriptions()}, key=lambda t: t.__name__):
        report.drawn[event_type.__name__] = {
            name: draw_examples(strategy(event_type), EXAMPLES) for name, strategy in STRATEGIES.items()
        }
    report.draw_seconds = time.monotonic() - started
    print(
        f"\n[fuzz] drew {EXAMPLES} examples per strategy for {len(report.drawn)} event types "
        f"in {report.draw_seconds:.1f}s (HLM360_FUZZ_SEED={SEED} replays them)"
    )
    return report


@pytest.fixture(scope="module")
async def fleet(
    settings: StackSettings, examples: FuzzReport, smtp_port: int, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, ServiceUnderTest]]:
    """The four services in-process, each on a fresh database, consuming this run's topics."""
    output: Path = tmp_path_factory.mktemp("fuzz-output")
    mail = {"smtp_port": smtp_port, "mail_poll_seconds": 0.2}
    overrides: dict[str, dict[str, object]] = {
        "invitations": {"link_secret": SECRET, **mail},
        "ratings": {"link_secret": SECRET},
        "reports": {
            "link_secret": SECRET,
            "output_dir": output / "reports",
            "public_base_url": "http://reports.fuzz",
            **mail,
        },
        "scheduling": {"link_secret": SECRET, "output_dir": output / "sessions", "seed_availability": False, **mail},
    }
    async with AsyncExitStack() as stack:
        services = {
            name: await stack.enter_async_context(running_service(name, settings, **extra))
            for name, extra in overrides.items()
        }
        await seed_demo_people(services["scheduling"])  # the demo's people, as `make up` seeds them
        yield services


@pytest.fixture(scope="session", autouse=True)
def _operator_kafka_login() -> None:
    """In-process services on a private topic namespace log in as the operators (tests/config.py).
    A fixture, not an import side effect: other tiers import helpers from here."""
    use_operator_kafka_login()
