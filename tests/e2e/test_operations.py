"""What operators scrape: every service exposes Prometheus metrics with its outbox backlog."""

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
