"""The overview: the pipeline, stuck cycles, backlogs, consumer lag and job health."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from console import pages, session
from console.prometheus import Prometheus
from console.web.deps import Config, Feed, Operator

router = APIRouter(prefix=pages.PREFIX)


@router.get("", include_in_schema=False)
async def to_overview() -> RedirectResponse:
    return RedirectResponse(pages.HOME, status_code=307)


@router.get("/", response_class=HTMLResponse)
async def overview(operator: Operator, settings: Config, feed: Feed) -> HTMLResponse:
    now = datetime.now(UTC)
    pipeline = feed.pipeline
    answers = await Prometheus(settings.prometheus_url).overview()
    return pages.overview(
        operator=operator,
        form_token=session.form_token(settings.session_keys(), operator),
        in_stage=pipeline.in_stage(),
        per_day=pipeline.per_day(today=now.date(), days=settings.pipeline_days),
        stuck=pipeline.stuck(now=now, thresholds=settings.thresholds()),
        answers=answers,
        caught_up=feed.caught_up.is_set(),
        feed_error=feed.last_error,
        jaeger_url=settings.jaeger_url,
    )
