"""The Grafana dashboard only charts metrics the services really expose."""

import json
import re

from shared.metrics import ServiceMetrics
from tests.config import REPO

DASHBOARD = REPO / "deploy" / "dashboards" / "hlm360-services.json"


def exposed_names() -> set[str]:
    names: set[str] = set()
    for metric in ServiceMetrics("dashboard-test").registry.collect():
        names.update(sample.name for sample in metric.samples)
        # a labelled counter has no samples until used; its exposed name carries `_total`
        names.add(f"{metric.name}_total" if metric.type == "counter" else metric.name)
    return names


def test_every_hlm360_metric_on_the_dashboard_exists() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    charted = {name for panel in panels for target in panel["targets"]
               for name in re.findall(r"\bhlm360_[a-z_]+", target["expr"])}
    assert {"hlm360_mail_pending_emails", "hlm360_emails_total", "hlm360_outbox_pending_events"} <= charted
    assert charted - exposed_names() == set()
