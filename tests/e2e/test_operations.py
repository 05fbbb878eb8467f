"""What operators use: every service exposes Prometheus metrics with its outbox backlog, and its
JSON API for one cycle answers only with the service's admin token."""

from uuid import uuid4

import httpx
import pytest

from tests.config import StackSettings


@pytest.mark.parametrize("service", ["invitations", "ratings", "reports", "scheduling"])
async def test_each_service_exposes_metrics_and_health(settings: StackSettings, service: str) -> None:
    base = getattr(settings, f"{service}_url")
    async with httpx.AsyncClient() as http:
        health = await http.get(f"{base}/healthz")
        metrics = await http.get(f"{base}/metrics")
    assert health.status_code == 200
    assert metrics.status_code == 200
    body = metrics.text
    assert f'hlm360_service_info{{service="{service}"}} 1.0' in body
    assert "hlm360_outbox_pending_events" in body
    assert "hlm360_outbox_oldest_pending_seconds" in body
    if service != "ratings":  # the services that send email
        assert "hlm360_mail_pending_emails" in body and "hlm360_mail_oldest_pending_seconds" in body
        assert "# HELP hlm360_emails_total" in body
    assert "@" not in body, "no email addresses in metric labels"


# Every operators' route of each service (shared.web.admin): (method, path) with an unknown cycle.
ADMIN_ROUTES = {
    "invitations": [("GET", "/api/cycles/{cycle}")],
    "ratings": [("GET", "/api/cycles/{cycle}"), ("POST", "/api/cycles/{cycle}/close")],
    "reports": [
        ("GET", "/api/cycles/{cycle}/report"),
        ("POST", "/api/cycles/{cycle}/report/release"),
        ("POST", "/api/cycles/{cycle}/report/participant-link"),
    ],
    "scheduling": [("GET", "/api/sessions?cycle_id={cycle}"), ("GET", "/api/unscheduled")],
}


@pytest.mark.parametrize("service", sorted(ADMIN_ROUTES))
async def test_the_operators_api_needs_the_services_admin_token(settings: StackSettings, service: str) -> None:
    base = getattr(settings, f"{service}_url")
    other = "reports" if service != "reports" else "scheduling"
    async with httpx.AsyncClient(base_url=base) as http:
        for method, template in ADMIN_ROUTES[service]:
            path = template.format(cycle=uuid4())
            for headers in ({}, {"Authorization": "Bearer wrong"}, settings.admin_headers(other)):
                refused = await http.request(method, path, headers=headers)
                assert refused.status_code == 401, (path, headers.keys(), refused.text)
                # RFC 6750: no credentials, a bare challenge; a wrong token, invalid_token (ADR 13)
                challenge = 'Bearer error="invalid_token"' if headers else "Bearer"
                assert refused.headers["www-authenticate"] == challenge
            allowed = await http.request(method, path, headers=settings.admin_headers(service))
            assert allowed.status_code in (200, 404, 409), (path, allowed.text)  # an unknown cycle: 404 / 409
