"""Invitation emails go through real SMTP, are retried on a temporary failure, and carry a
personal link whose token is never stored in clear."""

from uuid import uuid4

import httpx

from deploy.demo.intake import ask_over_http
from deploy.demo.journey import build_request
from tests.config import StackSettings
from tests.e2e.conftest import Databases
from tests.support import eventually


async def test_temporary_smtp_failure_is_retried_and_every_rater_gets_one_invitation(
    settings: StackSettings, dbs: Databases
) -> None:
    request = build_request(cycle_id=uuid4(), facilitator_id=None, tag=uuid4().hex[:8])
    peer = str(request.raters[1].email).lower()
    # only this rater's invitation fails once: the sink is shared with the other running services
    fail_next = settings.hlm360_mail_dir / f".fail-next-for-{peer}"
    fail_next.touch()
    async with httpx.AsyncClient() as http:
        cycle_id = await ask_over_http(
            http, request, invitations_url=settings.invitations_url, mail_dir=settings.hlm360_mail_dir, timeout=60
        )

    async def all_sent() -> list[object] | None:
        rows = await dbs.fetch(
            "invitations",
            "SELECT r.email, e.attempts, e.sent_at FROM invitations.outgoing_email e "
            "JOIN invitations.rater r ON r.id = e.rater_id WHERE e.cycle_id=$1 AND e.kind <> 'confirm_request'",
            cycle_id,
        )
        return rows if rows and all(r["sent_at"] for r in rows) else None

    rows = await eventually(all_sent, timeout=60, what="all invitation emails sent")
    assert len(rows) == 10
    assert max(r["attempts"] for r in rows) >= 2, "the 451 reply must have caused one retry"
    assert {r["email"].lower() for r in rows if r["attempts"] >= 2} == {peer}
    assert not fail_next.exists()

    recipients = {str(r.email).lower() for r in request.raters} | {str(request.participant.email).lower()}
    delivered: dict[str, int] = {}
    for path in settings.hlm360_mail_dir.glob("*.eml"):
        text = path.read_text(errors="replace")
        for address in recipients:
            if f"To: {address}" in text:
                delivered[address] = delivered.get(address, 0) + 1
    participant = str(request.participant.email).lower()
    # the participant's confirmation (the local stack asks for it) and their own invitation
    assert delivered == dict.fromkeys(recipients, 1) | {participant: 2}


async def test_refused_http_request_explains_why_and_creates_nothing(settings: StackSettings, dbs: Databases) -> None:
    request = build_request(cycle_id=uuid4(), facilitator_id=None, tag=uuid4().hex[:8])
    body = request.model_dump(mode="json", include={"participant", "deadline", "funding", "raters"})
    body["raters"].append(body["raters"][1])
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{settings.invitations_url}/api/cycles", json=body)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert "more than once" in problem["msg"] and problem["loc"] == ["body", "raters", len(body["raters"]) - 1, "email"]
    stored = "SELECT 1 FROM invitations.cycle WHERE email=$1"
    assert await dbs.fetch("invitations", stored, str(request.participant.email)) == []
