"""Prometheus metrics every service exposes at /metrics (labels are ids of code paths, never people).

FastStream's middleware counts messages per topic; these add what operators act on: events
applied, duplicates dropped, dead letters and retries, background job runs, each job's interval
and last success (staleness alerts), consumer lag per group and topic, the event outbox backlog
and, for services that send email, the mail outbox: emails by kind and outcome, and its backlog
(backlogs sampled at scrape time). Every labelled counter an alert watches exists at 0 from its
registration (consumer, job, email kind), so its first increase shows in increase()
(docs/adr/0018).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.contracts.topics import DEAD_LETTER_KINDS  # why a consumer dead-lettered a message (ADR 0009)

# Why a consumer put a message back: an error (counts towards dead-lettering) or an outage (never does).
RetryCause = Literal["error", "outage"]
RETRY_CAUSES: tuple[RetryCause, ...] = ("error", "outage")


class ServiceMetrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self._add_consumer_metrics()
        self._add_job_metrics()
        self.outbox_published = Counter(
            "hlm360_outbox_published_total", "Outbox rows published to Kafka.", registry=self.registry
        )
        self.outbox_publish_failures = Counter(
            "hlm360_outbox_publish_failures_total",
            "Failed attempts to publish an outbox row (it and the rows after it wait and are retried).",
            ["event_type"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "hlm360_outbox_pending_events", "Committed events not yet published.", registry=self.registry
        )
        self.outbox_oldest_pending_seconds = Gauge(
            "hlm360_outbox_oldest_pending_seconds",
            "Age of the oldest unpublished outbox row (0 when none).",
            registry=self.registry,
        )
        self.emails = Counter(
            "hlm360_emails_total",
            "Emails the mail outbox handled, by kind (template) and outcome "
            "(sent, retry, gave_up, refused, not_needed, unsendable).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.mail_pending = Gauge(
            "hlm360_mail_pending_emails",
            "Emails waiting to be sent (neither sent nor given up).",
            registry=self.registry,
        )
        self.mail_oldest_pending_seconds = Gauge(
            "hlm360_mail_oldest_pending_seconds",
            "Age of the oldest email waiting to be sent (0 when none).",
            registry=self.registry,
        )
        self.info = Gauge(
            "hlm360_service_info", "Constant 1, labelled with the service.", ["service"], registry=self.registry
        )
        self.info.labels(service=service).set(1)

    def _add_job_metrics(self) -> None:
        # "task", not "job": Prometheus gives every scraped series a `job` label (the service).
        self.background_job_runs = Counter(
            "hlm360_background_job_runs_total",
            "Runs of each background job (task) by outcome: ok or failed (failed runs are retried next tick).",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.background_job_last_success = Gauge(
            "hlm360_background_job_last_success_timestamp_seconds",
            "When each background job (task) last ran without error, as Unix time (the service's start "
            "until its first success).",
            ["task"],
            registry=self.registry,
        )
        self.background_job_interval = Gauge(
            "hlm360_background_job_interval_seconds",
            "How long each background job (task) waits between runs.",
            ["task"],
            registry=self.registry,
        )

    def _add_consumer_metrics(self) -> None:
        self.events_applied = Counter(
            "hlm360_events_applied_total",
            "Events applied by a consumer (first delivery).",
            ["consumer", "event_type"],
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "hlm360_events_duplicate_total",
            "Redelivered events dropped by the inbox.",
            ["consumer", "event_type"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "hlm360_dead_letters_total",
            "Messages sent to the dead-letter topic, by kind: undecodable (too large, not UTF-8, too deep), "
            "invalid (not the event), rejected (the rules refuse it), failed (errors up to the bound).",
            ["consumer", "kind"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "hlm360_consumer_lag",
            "Messages a consumer group has still to read from a topic: end offsets minus the group's "
            "committed offsets, summed over partitions (sampled by the consumer-lag job).",
            ["group", "topic"],
            registry=self.registry,
        )
        self.processing_failures = Counter(
            "hlm360_event_processing_failures_total",
            "Failed attempts to apply an event: errors (retried, then dead-lettered) and outages (paused).",
            ["consumer"],
            registry=self.registry,
        )
        self.consumer_retries = Counter(
            "hlm360_consumer_retries_total",
            "Deliveries a consumer put back to try again after a pause, by cause: error (counts towards "
            "dead-lettering) or outage (database or Kafka unreachable: waits, never dead-letters).",
            ["consumer", "cause"],
            registry=self.registry,
        )

    def register_consumer(self, consumer: str) -> None:
        """Start a consumer's failure series at 0, so the first dead letter or retry shows in rate()."""
        for kind in DEAD_LETTER_KINDS:
            self.dead_letters.labels(consumer=consumer, kind=kind)
        for cause in RETRY_CAUSES:
            self.consumer_retries.labels(consumer=consumer, cause=cause)
        self.processing_failures.labels(consumer=consumer)

    def register_job(self, task: str, *, interval_seconds: float) -> None:
        """Start a job's run counters at 0, say its interval, and count its staleness from now."""
        for outcome in ("ok", "failed"):
            self.background_job_runs.labels(task=task, outcome=outcome)
        self.background_job_interval.labels(task=task).set(interval_seconds)
        self.background_job_last_success.labels(task=task).set(time.time())

    def register_email_kinds(self, kinds: Iterable[str], outcomes: Iterable[str]) -> None:
        """Start every kind x outcome of a service's emails at 0, so the first refusal of a kind shows."""
        outcomes = tuple(outcomes)
        for kind in kinds:
            for outcome in outcomes:
                self.emails.labels(kind=kind, outcome=outcome)
