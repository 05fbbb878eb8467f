"""The Grafana dashboard and the Prometheus alerts use only metrics the services really expose;
every alert tells the operator what to do."""

import json
import re

import yaml

from shared.metrics import ServiceMetrics
from tests.config import REPO

DASHBOARD = REPO / "deploy" / "monitoring" / "hlm360-services.json"
PROMETHEUS = REPO / "deploy" / "monitoring" / "prometheus.yml"
SERVICES = {"invitations", "ratings", "reports", "scheduling", "observations"}


def exposed_names() -> set[str]:
    names: set[str] = set()
    for metric in ServiceMetrics("dashboard-test").registry.collect():
        names.update(sample.name for sample in metric.samples)
        # a labelled counter has no samples until used; its exposed name carries `_total`
        names.add(f"{metric.name}_total" if metric.type == "counter" else metric.name)
    return names


def test_every_hlm360_metric_on_the_dashboard_exists() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    charted = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"\bhlm360_[a-z_]+", target["expr"])
    }
    assert {"hlm360_mail_pending_emails", "hlm360_emails_total", "hlm360_outbox_pending_events"} <= charted
    assert charted - exposed_names() == set()


def test_alerts_are_loaded_use_exposed_metrics_and_say_what_to_do() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == SERVICES
    (rule_file,) = config["rule_files"]
    assert rule_file == "@RULES_DIR@/alerts.yml", "deploy/local/monitoring.sh points it at deploy/monitoring"
    groups = yaml.safe_load((PROMETHEUS.parent / "alerts.yml").read_text())["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    names = {rule["alert"] for rule in rules}
    assert {"Hlm360OutboxStuck", "Hlm360DeadLetters", "Hlm360MailBacklog", "Hlm360ServiceDown"} <= names
    used = {name for rule in rules for name in re.findall(r"\bhlm360_[a-z_]+", rule["expr"])}
    assert used - exposed_names() == set()
    for rule in rules:
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"] and len(rule["annotations"]["action"]) > 40, rule["alert"]
        labels = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule["annotations"])))
        allowed = {"job", "instance", "consumer", "kind", "task", "group", "topic"}
        assert labels <= allowed, f"{rule['alert']} names only services, consumers, jobs, topics and kinds"
