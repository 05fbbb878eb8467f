"""The console's overview page renders Prometheus's answers and the pipeline, and says when a source
did not answer (services/console/src/console/pages.py, prometheus.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from console import pages
from console.pipeline import Stage, StuckCycle
from console.prometheus import QUERIES, Answer, Sample, _samples


def _answers(**given: Answer) -> dict[str, Answer]:
    return {name: given.get(name, Answer()) for name in QUERIES}


def test_samples_keep_finite_values_and_labels_but_not_the_metric_name() -> None:
    result = [
        {"metric": {"__name__": "up", "job": "invitations", "instance": "127.0.0.1:8101"}, "value": [1, "1"]},
        {"metric": {"job": "ratings"}, "value": [1, "NaN"]},
        {"metric": {"job": "reports"}, "value": [1, "not a number"]},
    ]
    assert _samples(result) == [Sample(labels={"job": "invitations", "instance": "127.0.0.1:8101"}, value=1.0)]


def test_the_overview_shows_backlogs_lag_jobs_and_stuck_cycles_with_a_trace_link() -> None:
    cycle = uuid.uuid4()
    answers = _answers(
        up=Answer(samples=(Sample({"job": "invitations", "instance": "127.0.0.1:8101"}, 0.0),)),
        outbox_pending=Answer(samples=(Sample({"job": "invitations"}, 3.0),)),
        outbox_oldest=Answer(samples=(Sample({"job": "invitations"}, 4000.0),)),
        consumer_lag=Answer(samples=(Sample({"group": "reports.compile", "topic": "hlm360.cycle-closed.v1"}, 12.0),)),
        job_last_success=Answer(error="ConnectError"),
    )
    stuck = [
        StuckCycle(
            cycle_id=cycle, stage=Stage.CLOSED, since=datetime(2026, 12, 1, tzinfo=UTC), waited=timedelta(hours=30)
        )
    ]
    page = pages.overview(
        operator="local-admin",
        form_token="t",
        in_stage={stage: 1 for stage in Stage},
        per_day=[(date(2026, 12, 2), {stage: 2 for stage in Stage})],
        stuck=stuck,
        answers=answers,
        caught_up=False,
        feed_error="KafkaConnectionError",
        jaeger_url="http://127.0.0.1:16686",
    ).body.decode()
    assert "DOWN" in page and "1 h 6 min" in page and "reports.compile" in page
    assert "Prometheus did not answer (ConnectError)" in page, "the jobs section says its source is away"
    assert "Still reading Kafka" in page and "KafkaConnectionError" in page
    assert f"/search?service=hlm360-invitations&amp;tags=%7B%22hlm360.cycle_id%22%3A%22{cycle}%22%7D" in page
