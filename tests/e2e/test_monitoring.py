"""Monitoring after `make up` (deploy/local/monitoring.sh, docs/adr/0018): Prometheus scrapes every
running service instance and has the project's rules loaded, consumer lag and job staleness are
collected, and an alert that reaches Alertmanager arrives as an email to the operators in the mail sink."""

from __future__ import annotations

import email
import email.policy
import os
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.config import REPO, StackSettings
from tests.support import eventually

PROMETHEUS = os.environ.get("HLM360_PROMETHEUS_URL", "http://127.0.0.1:9090")
ALERTMANAGER = os.environ.get("HLM360_ALERTMANAGER_URL", "http://127.0.0.1:9093")
OPERATORS = os.environ.get("HLM360_OPERATORS_EMAIL", "hlm360-operators@hlm360.example.nhs.uk")
SERVICES = ("invitations", "ratings", "reports", "scheduling")
# deploy/local/services.sh writes one target file per running instance; Prometheus scrapes every 15 s
SCRAPED_WITHIN = 90.0


async def prometheus(path: str, **params: str) -> Any:
    async with httpx.AsyncClient(base_url=PROMETHEUS, timeout=10) as http:
        answer = await http.get(path, params=params)
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success", body
    return body["data"]


def instances(settings: StackSettings) -> dict[str, str]:
    """Every running service instance (job -> host:port), as the services' URLs say."""
    return {service: getattr(settings, f"{service}_url").split("://", 1)[1] for service in SERVICES}


async def test_prometheus_scrapes_every_service_instance(settings: StackSettings) -> None:
    wanted = {(job, instance) for job, instance in instances(settings).items()}

    async def all_up() -> set[tuple[str, str]] | None:
        targets = (await prometheus("/api/v1/targets", state="active"))["activeTargets"]
        up = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets if t["health"] == "up"}
        return up if wanted <= up else None

    await eventually(all_up, timeout=SCRAPED_WITHIN, interval=2, what=f"targets up: {sorted(wanted)}")


async def test_prometheus_has_every_project_rule_loaded_and_an_alertmanager(settings: StackSettings) -> None:
    groups = yaml.safe_load((REPO / "deploy" / "monitoring" / "alerts.yml").read_text())["groups"]
    wanted = {rule["alert"] for group in groups for rule in group["rules"]}
    loaded = (await prometheus("/api/v1/rules", type="alert"))["groups"]
    rules = {rule["name"]: rule for group in loaded for rule in group["rules"]}
    assert wanted <= set(rules)
    assert all(rules[name]["health"] != "err" for name in wanted), {n: rules[n].get("lastError") for n in wanted}
    managers = (await prometheus("/api/v1/alertmanagers"))["activeAlertmanagers"]
    assert [m["url"] for m in managers] == [f"{ALERTMANAGER}/api/v2/alerts"]


async def test_consumer_lag_and_job_staleness_are_collected(settings: StackSettings) -> None:
    async def lag_of_every_service() -> set[str] | None:
        series = await prometheus("/api/v1/query", query="hlm360_consumer_lag")
        jobs = {each["metric"]["job"] for each in series["result"]}
        return jobs if set(SERVICES) <= jobs else None

    await eventually(lag_of_every_service, timeout=SCRAPED_WITHIN, interval=2, what="hlm360_consumer_lag of each")
    fresh = await prometheus(
        "/api/v1/query",
        query='time() - hlm360_background_job_last_success_timestamp_seconds{task="consumer-lag"}'
        ' < on (job, instance, task) 2 * hlm360_background_job_interval_seconds{task="consumer-lag"} + 60',
    )
    assert {each["metric"]["job"] for each in fresh["result"]} == set(SERVICES), "consumer-lag succeeds everywhere"


def emails_to(mail_dir: Path, address: str, marker: str) -> list[EmailMessage]:
    found = []
    for path in mail_dir.glob("*.eml"):
        raw = path.read_bytes()
        if address.encode() not in raw:  # the sink holds every email the tests sent: parse only the operators'
            continue
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message.get("To", "")).lower() != address:
            continue
        body = message.get_body(preferencelist=("plain", "html"))
        text = f"{message['Subject']}\n{body.get_content() if body is not None else ''}"
        if marker in text:
            found.append(message)
    return found


async def test_an_alert_reaches_the_operators_by_email(settings: StackSettings) -> None:
    async with httpx.AsyncClient(base_url=ALERTMANAGER, timeout=10) as http:
        status = (await http.get("/api/v2/status")).raise_for_status().json()
        assert (await http.get("/-/ready")).status_code == 200
        assert "127.0.0.1:2525" in status["config"]["original"]

        marker = f"e2e-probe-{uuid.uuid4().hex[:12]}"  # its own group: sent after group_wait, not batched
        now = datetime.now(UTC)
        alert = {
            "labels": {"alertname": "Hlm360MonitoringProbe", "job": marker, "severity": "ticket"},
            "annotations": {"summary": f"{marker}: the e2e test checks that alerts reach the operators"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=5)).isoformat(),
        }
        (await http.post("/api/v2/alerts", json=[alert])).raise_for_status()
        try:
            (message, *_) = await eventually(
                lambda: [m for m in emails_to(settings.hlm360_mail_dir, OPERATORS, marker) if "FIRING" in m["Subject"]],
                timeout=90,
                interval=1,
                what=f"the alert email to {OPERATORS}",
            )
            assert "Hlm360MonitoringProbe" in message["Subject"]
            assert "hlm360-alerts@" in message["From"]
        finally:  # resolve it, so it does not repeat
            alert["endsAt"] = datetime.now(UTC).isoformat()
            await http.post("/api/v2/alerts", json=[alert])
