"""One complete HLM 360 journey through the running services, as people and systems would do it.

A participant's 360 is requested (over HTTP, or on Kafka as another NHS system would), ten raters
follow the links in their invitation emails and submit the questionnaire over HTTP, the cycle
closes, the report is compiled and a feedback session is booked. `make demo` runs `main()`;
the end-to-end tests call `run_journey()` and assert on what it returns.
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid4

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.demo.booking import book_session
from deploy.demo.intake import ask_over_http, ask_over_kafka
from deploy.demo.mailbox import plain_text, poll
from deploy.demo.raters import answer_questionnaire
from deploy.demo.traces import trace_links
from shared.contracts.events import CycleRequested, Funding, Participant, RaterNomination
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.settings import KafkaClientSettings

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(https?://\S+/r/[A-Za-z0-9_\-]+)")


class JourneySettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=(REPO / ".local" / "env", REPO / ".local" / "operator.env"), extra="ignore"
    )

    hlm360_kafka_bootstrap_servers: str = "127.0.0.1:19092"
    # A 360 requested over Kafka comes from another NHS system: its login (.local/operator.env)
    hlm360_kafka_external_username: str = "external"
    hlm360_kafka_external_password: SecretStr | None = None
    hlm360_mail_dir: Path = REPO / ".local" / "mail"
    invitations_url: str = "http://127.0.0.1:8101"
    ratings_url: str = "http://127.0.0.1:8102"
    reports_url: str = "http://127.0.0.1:8103"
    scheduling_url: str = "http://127.0.0.1:8104"
    hlm360_jaeger_url: str = "http://127.0.0.1:16686"  # deploy/local/jaeger.sh: the traces (ADR 17)
    console_prometheus_url: str = "http://127.0.0.1:9090"  # deploy/local/monitoring.sh (ADR 18)
    console_http_port: int = 8105  # the operators' console (services/console)
    hlm360_frontdoor_url: str = "https://localhost:8443"  # deploy/local/frontdoor.sh: people's one origin
    hlm360_alertmanager_port: int = 9093
    invitations_database_url: SecretStr | None = None
    # The operators' API of reports and scheduling (written by deploy/local/stack.sh).
    reports_admin_token: SecretStr
    scheduling_admin_token: SecretStr


def bearer(token: SecretStr) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.get_secret_value()}"}


@dataclass
class JourneyResult:
    cycle_id: UUID
    participant_email: str
    rater_emails: dict[str, str]
    links: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def build_request(
    *, cycle_id: UUID, facilitator_id: UUID | None, tag: str, management_line: Sequence[str] = ()
) -> CycleRequested:
    def person(label: str) -> str:
        return f"{label}.{tag}@example.nhs.uk"

    raters = [RaterNomination(group=RaterGroup.LINE_MANAGER, name="Line Manager", email=person("manager"))]
    raters += [RaterNomination(group=RaterGroup.PEER, name=f"Peer {i}", email=person(f"peer{i}")) for i in (1, 2, 3)]
    raters += [
        RaterNomination(group=RaterGroup.DIRECT_REPORT, name=f"Report {i}", email=person(f"report{i}"))
        for i in (1, 2, 3)
    ]
    raters += [
        RaterNomination(group=RaterGroup.OTHER, name=f"Stakeholder {i}", email=person(f"other{i}")) for i in (1, 2)
    ]
    return CycleRequested(
        producer="hlm360-demo",
        cycle_id=cycle_id,
        participant=Participant(
            participant_id=f"DEMO-{tag}",
            given_name="Amara",
            family_name="Okafor",
            email=person("participant"),
            organisation="Demo Community NHS Trust",
            region="London",
            management_line=[person("director"), *management_line],
            preferred_language="en",
        ),
        programme="Mary Seacole Programme (demo)",
        facilitator_id=facilitator_id,
        deadline=datetime.now(UTC) + timedelta(days=14),
        funding=Funding(method=FundingMethod.PURCHASE_ORDER, reference=f"PO-DEMO-{tag}"),
        raters=raters,
    )


def _links_in_mail(mail_dir: Path, recipients: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted(mail_dir.glob("*.eml")):
        to, text = plain_text(path)
        if to in recipients and to not in found and (match := LINK.search(text)):
            found[to] = match.group(1)
    return found


async def first_london_facilitator(
    http: httpx.AsyncClient, settings: JourneySettings, *, timeout: float = 60.0
) -> UUID | None:
    """The facilitator a participant would pick on the start page: the first London one invitations
    offers. Invitations learns facilitators from scheduling's events, so right after a start the list
    can lag behind scheduling's directory: wait until it offers one."""

    async def offered() -> list[dict[str, Any]] | None:
        response = await http.get(f"{settings.invitations_url}/api/facilitators")
        facilitators: list[dict[str, Any]] = response.json() if response.status_code == 200 else []
        london = [f for f in facilitators if f.get("region") == "London"]
        return london or None

    london = await poll(offered, timeout=timeout, what="invitations to offer a London facilitator")
    return UUID(london[0]["id"])


async def run_journey(
    *,
    intake: Literal["http", "kafka"] = "http",
    settings: JourneySettings | None = None,
    timeout: float = 120.0,
    log: Any = print,
    cycle_id: UUID | None = None,
    facilitator_id: UUID | None = None,
    management_line: Sequence[str] = (),
) -> JourneyResult:
    """One 360 from request to booked session. The participant chooses `facilitator_id` (default: the
    first London facilitator scheduling lists); `management_line` adds emails to their management line.
    `cycle_id`: the id a Kafka request carries (over HTTP the server chooses it)."""
    settings = settings or JourneySettings()  # type: ignore[call-arg]
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=20.0) as http:
        if facilitator_id is None:
            facilitator_id = await first_london_facilitator(http, settings)
        request = build_request(
            cycle_id=cycle_id or uuid4(),
            facilitator_id=facilitator_id,
            tag=uuid4().hex[:8],
            management_line=management_line,
        )
        cycle_id = await _ask(http, settings, request, intake=intake, timeout=timeout)
        log(f"requested 360 {cycle_id} via {intake} with {len(request.raters) + 1} raters")
        participant = str(request.participant.email).lower()
        rater_emails = {str(r.email).lower(): r.group.value for r in request.raters}
        rater_emails[participant] = RaterGroup.SELF.value
        result = JourneyResult(cycle_id=cycle_id, participant_email=participant, rater_emails=rater_emails)
        await _rate_and_report(http, settings, result, started=started, timeout=timeout, log=log)
        result.session = await book_session(
            http,
            scheduling_url=settings.scheduling_url,
            mail_dir=settings.hlm360_mail_dir,
            cycle_id=cycle_id,
            participant_email=participant,
            timeout=timeout,
            admin_headers=bearer(settings.scheduling_admin_token),
        )
        result.timings["session_booked"] = time.monotonic() - started
    return result


async def _ask(
    http: httpx.AsyncClient, settings: JourneySettings, request: CycleRequested, *, intake: str, timeout: float
) -> UUID:
    """Ask for the 360 (over HTTP, confirming by email if asked, or on Kafka): its cycle id."""
    if intake == "http":
        return await ask_over_http(
            http, request, invitations_url=settings.invitations_url, mail_dir=settings.hlm360_mail_dir, timeout=timeout
        )
    external = KafkaClientSettings(
        kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
        kafka_username=settings.hlm360_kafka_external_username,
        kafka_password=settings.hlm360_kafka_external_password,
    )
    return await ask_over_kafka(request, login=external)


async def _rate_and_report(
    http: httpx.AsyncClient,
    settings: JourneySettings,
    result: JourneyResult,
    *,
    started: float,
    timeout: float,
    log: Any,
) -> None:
    """Every rater follows their invitation link and answers; then wait for the compiled report."""

    async def all_links() -> dict[str, str] | None:
        links = _links_in_mail(settings.hlm360_mail_dir, set(result.rater_emails))
        return links if len(links) == len(result.rater_emails) else None

    result.links = await poll(all_links, timeout=timeout, what="ten invitation emails")
    result.timings["invitations_received"] = time.monotonic() - started
    log(f"{len(result.links)} invitation emails received in {settings.hlm360_mail_dir}")

    rng = random.Random(str(result.cycle_id))
    for address, link in sorted(result.links.items()):
        leaning = 4 if result.rater_emails[address] == "self" else rng.choice((3, 4, 4, 5))
        await answer_questionnaire(http, link, rng=rng, leaning=leaning)
    result.timings["ratings_submitted"] = time.monotonic() - started
    log("all ten raters submitted the questionnaire")

    async def report() -> dict[str, Any] | None:
        r = await http.get(
            f"{settings.reports_url}/api/cycles/{result.cycle_id}/report", headers=bearer(settings.reports_admin_token)
        )
        return r.json() if r.status_code == 200 else None

    result.report = await poll(report, timeout=timeout, what="the report")
    result.timings["report_generated"] = time.monotonic() - started


def main() -> int:
    result = asyncio.run(run_journey())
    print()
    print("HLM 360 demo journey complete")
    print(f"  cycle:           {result.cycle_id}")
    print(f"  emails:          {JourneySettings().hlm360_mail_dir}")  # type: ignore[call-arg]
    print(f"  report (PDF):    {result.report.get('pdf_path')}")
    print(f"  report (HTML):   {result.report.get('html_path')}")
    s = result.session
    print(
        f"  feedback session {s.get('starts_at')} to {s.get('ends_at')} ({s.get('mode')}), "
        f"facilitator {s.get('facilitator_id')}"
    )
    print(f"  calendar file:   {s.get('ics_path')}")
    print(f"  took {result.timings['session_booked']:.1f}s end to end")
    print(*asyncio.run(trace_links(JourneySettings().hlm360_jaeger_url, result.cycle_id)), sep="\n")  # type: ignore[call-arg]
    settings = JourneySettings()  # type: ignore[call-arg]
    console = f"{settings.hlm360_frontdoor_url}/console/"
    alerts = f"http://127.0.0.1:{settings.hlm360_alertmanager_port}"
    print(f"  start page:      {settings.hlm360_frontdoor_url}/start (the front door: every emailed link goes there)")
    print(f"  operator console: {console} (sign in with CONSOLE_ADMIN_TOKEN from .local/operator.env)")
    print(f"  metrics, alerts: {settings.console_prometheus_url} (Prometheus), {alerts} (Alertmanager)")
    print("  next: the report stays held from the participant until the session. Once it has started, the")
    print("        facilitator records it completed on their page (link in their booking email); that releases")
    print("        the report to the participant (shown end to end in tests/integration/test_session_release.py).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
