"""The monitoring configuration is what Prometheus and Alertmanager accept, and every alert behaves as
its promtool tests say (deploy/monitoring/tests, including issue 13's three holes: docs/adr/0018).
promtool and amtool come with the Debian packages `make up` installs (deploy/local/monitoring.sh):
without them these tests fail, they never skip."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from aiokafka import TopicPartition

from shared.consumer_lag import lag_by_topic
from shared.metrics import ServiceMetrics
from tests.config import REPO

MONITORING = REPO / "deploy" / "monitoring"
RULE_TESTS = sorted((MONITORING / "tests").glob("*.test.yml"))


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} not found: it comes with the Debian packages prometheus / prometheus-alertmanager; "
            "install them with `sudo bash deploy/local/monitoring.sh install` (`make up` does)",
            pytrace=False,
        )
    return found


def run(*command: str | Path) -> str:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{output}"
    return output


def rendered(template: str, tmp_path: Path, **values: str) -> Path:
    """The template as deploy/local/monitoring.sh renders it (every @WORD@ replaced)."""
    text = (MONITORING / template).read_text()
    for word, value in values.items():
        text = text.replace(f"@{word}@", value)
    assert re.search(r"@[A-Z_]+@", text) is None, f"{template}: a placeholder is left"
    target = tmp_path / template
    target.write_text(text)
    return target


def alerts() -> list[dict[str, object]]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_prometheus_accepts_the_rendered_config_and_the_rules(tmp_path: Path) -> None:
    config = rendered(
        "prometheus.yml",
        tmp_path,
        RULES_DIR=str(MONITORING),
        TARGETS_DIR=str(tmp_path / "targets"),
        ALERTMANAGER="127.0.0.1:9093",
    )
    assert "SUCCESS: 1 rule files found" in run(tool("promtool"), "check", "config", config)
    assert f"SUCCESS: {len(alerts())} rules found" in run(tool("promtool"), "check", "rules", MONITORING / "alerts.yml")


def test_alertmanager_accepts_the_rendered_config(tmp_path: Path) -> None:
    config = rendered(
        "alertmanager.yml",
        tmp_path,
        SMTP_SMARTHOST="127.0.0.1:2525",
        ALERTS_FROM="HLM 360 alerts <hlm360-alerts@hlm360.example.nhs.uk>",
        OPERATORS_TO="hlm360-operators@hlm360.example.nhs.uk",
    )
    assert "SUCCESS" in run(tool("amtool"), "check-config", config)


def test_every_alert_passes_its_promtool_tests() -> None:
    assert RULE_TESTS, "no promtool tests in deploy/monitoring/tests"
    output = run(tool("promtool"), "test", "rules", *RULE_TESTS)
    assert output.count("SUCCESS") == len(RULE_TESTS), output


def test_every_alert_has_a_test_that_fires_it_and_one_that_does_not() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        spec = yaml.safe_load(path.read_text())
        assert spec["rule_files"] == ["../alerts.yml"], path.name
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {str(rule["alert"]) for rule in alerts()}
    assert names - fired == set(), "alerts no promtool test fires"
    assert names - quiet == set(), "alerts no promtool test shows quiet"


def test_issue13_holes_stay_closed() -> None:
    spec = yaml.safe_load((MONITORING / "tests" / "issue13-holes.test.yml").read_text())
    checked = [check["alertname"] for case in spec["tests"] for check in case["alert_rule_test"] if check["exp_alerts"]]
    assert checked == ["Hlm360DeadLetters", "Hlm360BackgroundJobFailing", "Hlm360BackgroundJobFailing"]


def samples(metrics: ServiceMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in metrics.registry.collect()
        for sample in metric.samples
    }


def test_a_registered_job_is_counted_from_zero_with_its_interval_and_staleness_from_now() -> None:
    metrics = ServiceMetrics("test")
    before = time.time()
    metrics.register_job("send-emails", interval_seconds=0.5)
    found = samples(metrics)
    task = (("task", "send-emails"),)
    assert found[("hlm360_background_job_runs_total", (("outcome", "failed"), *task))] == 0
    assert found[("hlm360_background_job_runs_total", (("outcome", "ok"), *task))] == 0
    assert found[("hlm360_background_job_interval_seconds", task)] == 0.5
    assert before <= found[("hlm360_background_job_last_success_timestamp_seconds", task)] <= time.time()


def test_every_email_kind_and_outcome_and_every_consumer_failure_start_at_zero() -> None:
    metrics = ServiceMetrics("test")
    metrics.register_email_kinds(["invitation", "reminder"], ["sent", "refused"])
    metrics.register_consumer("invitations.cycle-requested")
    found = samples(metrics)
    emails = {labels for name, labels in found if name == "hlm360_emails_total"}
    assert len(emails) == 4
    dead = {labels for name, labels in found if name == "hlm360_dead_letters_total"}
    assert {dict(labels)["kind"] for labels in dead} == {"undecodable", "invalid", "rejected", "failed"}
    assert all(found[(name, labels)] == 0 for name, labels in found if name.endswith("_total"))


def test_lag_is_end_minus_committed_from_the_beginning_where_nothing_is_committed() -> None:
    a0, a1, b0 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 0)
    lag = lag_by_topic(
        committed={a0: 7, a1: -1, b0: 20},
        beginning={a0: 0, a1: 3, b0: 25},
        end={a0: 10, a1: 5, b0: 30},
    )
    # b: retention deleted past an idle group's offset (20): it resumes at the first retained one (25)
    assert lag == {"a": 3 + 2, "b": 5}
