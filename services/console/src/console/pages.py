"""Rendering the console's pages (jinja2 `templates/pages/`) from what the pipeline and Prometheus
answered; no queries. Every figure is a count, an id or a time: nothing about people."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi.responses import HTMLResponse

from console.domain import DeadLetter, format_age
from console.pipeline import Stage, StuckCycle
from console.prometheus import Answer
from shared.contracts.deadletters import DeadLetterAudit
from shared.web import page_templates

_pages = page_templates("console")
SERVICE_NAME = "hlm360 operator console"
# Every page lives under this path: the console shares one origin with the services (the front door
# routes /console to it), so its paths must not meet theirs (`/` is invitations' start page).
PREFIX = "/console"
HOME = f"{PREFIX}/"
SIGN_IN = f"{PREFIX}/sign-in"


def render(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("errors", [])
    errors: list[tuple[str, str]] = context["errors"]
    context["error_for"] = lambda field_id: next((m for f, m in errors if f == field_id), None)
    context.setdefault("service_name", SERVICE_NAME)
    context.setdefault("page_title", "Operator console")
    context.setdefault("home_href", HOME)
    return HTMLResponse(_pages.get_template(f"pages/{name}.html").render(**context), status_code=status_code)


def sign_in(*, error: str | None = None, status_code: int = 200) -> HTMLResponse:
    errors = [("token", error)] if error else []
    return render("sign_in", errors=errors, page_title="Sign in", status_code=status_code)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    caption: str
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    empty: str
    error: str | None = None


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M") if epoch > 0 else "never"


def _by(answer: Answer, *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s.labels.get(label, "") for label in labels): s.value for s in answer.samples}


def _rows(answers: dict[str, Answer]) -> dict[str, list[tuple[str, ...]]]:
    """The rows of each table, from Prometheus's samples."""
    outbox, oldest = _by(answers["outbox_pending"], "job"), _by(answers["outbox_oldest"], "job")
    mail, mail_oldest = _by(answers["mail_pending"], "job"), _by(answers["mail_oldest"], "job")
    failures = _by(answers["job_failures"], "job", "task")
    return {
        "instances": [
            (s.labels.get("job", ""), s.labels.get("instance", ""), "up" if s.value == 1 else "DOWN")
            for s in answers["up"].samples
        ],
        "backlogs": [
            (
                job,
                f"{int(outbox.get((job,), 0))}",
                _age(oldest.get((job,), 0)),
                f"{int(mail.get((job,), 0))}",
                _age(mail_oldest.get((job,), 0)),
            )
            for (job,) in sorted(set(outbox) | set(mail))
        ],
        "lag": [
            (group, topic, f"{int(value)}")
            for (group, topic), value in sorted(_by(answers["consumer_lag"], "group", "topic").items())
        ],
        "jobs": [
            (job, task, _when(value), f"{int(failures.get((job, task), 0))}")
            for (job, task), value in sorted(_by(answers["job_last_success"], "job", "task").items())
        ],
    }


# id -> (title, caption, column headers, text when empty, the queries whose failure the section shows)
SECTIONS: dict[str, tuple[str, str, tuple[str, ...], str, tuple[str, ...]]] = {
    "instances": (
        "Service instances",
        "Every instance Prometheus scrapes",
        ("Job", "Instance", "State"),
        "Prometheus scrapes no instance.",
        ("up",),
    ),
    "backlogs": (
        "Outbox and mail backlogs",
        "Waiting to reach Kafka or to be emailed, per service",
        ("Service", "Events waiting", "Oldest event", "Emails waiting", "Oldest email"),
        "No backlog figures yet.",
        ("outbox_pending", "mail_pending"),
    ),
    "lag": (
        "Consumer lag",
        "Messages not yet consumed, per consumer group and topic",
        ("Consumer group", "Topic", "Messages behind"),
        "No consumer lag reported.",
        ("consumer_lag",),
    ),
    "jobs": (
        "Background jobs",
        "Last successful run and failed runs in the last hour",
        ("Service", "Job", "Last success (UTC)", "Failures (1 h)"),
        "No job has reported yet.",
        ("job_last_success", "job_failures"),
    ),
}


def sections(answers: dict[str, Answer]) -> list[Section]:
    """The instance, backlog, lag and job tables from Prometheus's answers."""
    rows = _rows(answers)
    return [
        Section(
            id=key,
            title=title,
            caption=caption,
            headers=headers,
            rows=rows[key],
            empty=empty,
            error=next((answers[q].error for q in queries if answers[q].error), None),
        )
        for key, (title, caption, headers, empty, queries) in SECTIONS.items()
    ]


def overview(
    *,
    operator: str,
    form_token: str,
    in_stage: dict[Stage, int],
    per_day: Sequence[tuple[Any, dict[Stage, int]]],
    stuck: Sequence[StuckCycle],
    answers: dict[str, Answer],
    caught_up: bool,
    feed_error: str | None,
    jaeger_url: str,
) -> HTMLResponse:
    return render(
        "overview",
        operator=operator,
        form_token=form_token,
        stages=list(Stage),
        in_stage=in_stage,
        per_day=per_day,
        stuck=stuck,
        sections=sections(answers),
        caught_up=caught_up,
        feed_error=feed_error,
        trace_url=trace_link(jaeger_url),
        page_title="Operations",
    )


def trace_link(jaeger_url: str) -> Callable[[UUID], str]:
    """Jaeger's search for the traces of one cycle (its spans carry `hlm360.cycle_id`)."""

    def url(cycle_id: UUID) -> str:
        query = urlencode({"service": "hlm360-invitations", "tags": f'{{"hlm360.cycle_id":"{cycle_id}"}}'})
        return f"{jaeger_url.rstrip('/')}/search?{query}"

    return url


# --- dead letters ------------------------------------------------------------------------------

MAX_SHOWN = 500  # rows on the list page (the oldest first); the CLI pages through more
MAX_PAYLOAD = 64 * 1024  # characters of a payload shown on its page


def dead_letters(
    *,
    values: dict[str, str],
    everything: bool,
    letters: Sequence[DeadLetter],
    handled: dict[str, DeadLetterAudit],
    form_token: str,
    error: str | None = None,
) -> HTMLResponse:
    now = datetime.now(UTC)
    rows = [letter.summary(now, handled.get(str(letter.ref))) for letter in letters[:MAX_SHOWN]]
    return render(
        "dead_letters",
        page_title="Dead letters",
        values=values,
        everything=everything,
        rows=rows,
        total=len(letters),
        ids=" ".join(str(letter.ref) for letter in letters),
        form_token=form_token,
        format_age=format_age,
        errors=[("older_than", error)] if error else [],
        status_code=422 if error else 200,
    )


def dead_letter(letter: DeadLetter, *, handled: DeadLetterAudit | None, form_token: str) -> HTMLResponse:
    payload = letter.value.decode("utf-8", errors="replace")
    return render(
        "dead_letter",
        page_title=f"Dead letter {letter.ref}",
        letter=letter,
        summary=letter.summary(datetime.now(UTC), handled),
        headers=[(key, value.decode("utf-8", errors="replace")) for key, value in letter.headers],
        payload=payload[:MAX_PAYLOAD],
        cut=len(payload) > MAX_PAYLOAD,
        problem=letter.replay_problem(),
        form_token=form_token,
        format_age=format_age,
    )


def confirm_action(action: str, letters: Sequence[DeadLetter], *, form: dict[str, str]) -> HTMLResponse:
    kept = {k: v for k, v in form.items() if k != "confirm"}
    return render(
        "confirm_action",
        page_title=f"Confirm: {action}",
        action=action,
        letters=letters[:MAX_SHOWN],
        total=len(letters),
        fields=kept,
    )


def action_done(action: str, *, done: Sequence[DeadLetterAudit], failed: str | None = None) -> HTMLResponse:
    return render(
        "action_done",
        page_title="Done" if failed is None else "Stopped",
        action=action,
        done=done,
        failed=failed,
        status_code=200 if failed is None else 502,
    )
