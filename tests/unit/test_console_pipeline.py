"""The console's pipeline (services/console/src/console/pipeline.py): stages only move forward,
whatever order the lifecycle events arrive in; per-day counts; stuck cycles by threshold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from console.pipeline import DEFAULT_THRESHOLDS, STAGE_OF_EVENT, Pipeline, Stage

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORDER = list(STAGE_OF_EVENT)  # the lifecycle events in stage order


def test_a_cycle_moves_forward_and_never_back() -> None:
    pipeline, cycle = Pipeline(), uuid.uuid4()
    assert pipeline.apply(event_type="CycleOpened", cycle_id=cycle, occurred_at=T0)
    assert pipeline.apply(event_type="CycleClosed", cycle_id=cycle, occurred_at=T0 + timedelta(days=14))
    assert pipeline.apply(event_type="CycleOpened", cycle_id=cycle, occurred_at=T0 + timedelta(days=15))
    progress = pipeline.cycles[cycle]
    assert progress.stage is Stage.CLOSED and progress.since == T0 + timedelta(days=14)
    assert progress.reached[Stage.OPEN] == T0, "the first time a stage was reached counts"
    assert not pipeline.apply(event_type="RatingSubmitted", cycle_id=cycle, occurred_at=T0), "not a lifecycle event"
    assert pipeline.events_seen == 3


@given(st.permutations(ORDER))
def test_the_stage_is_the_furthest_event_whatever_the_order(order: list[str]) -> None:
    pipeline, cycle = Pipeline(), uuid.uuid4()
    for event_type in order:
        pipeline.apply(event_type=event_type, cycle_id=cycle, occurred_at=T0 + timedelta(hours=ORDER.index(event_type)))
    progress = pipeline.cycles[cycle]
    assert progress.stage is Stage.RELEASED and progress.since == T0 + timedelta(hours=len(ORDER) - 1)
    assert pipeline.in_stage() == {stage: int(stage is Stage.RELEASED) for stage in Stage}


def test_per_day_counts_each_stage_reached_on_each_day() -> None:
    pipeline = Pipeline()
    for n in range(3):
        cycle = uuid.uuid4()
        pipeline.apply(event_type="CycleOpened", cycle_id=cycle, occurred_at=T0 - timedelta(days=n))
        if n == 0:
            pipeline.apply(event_type="CycleClosed", cycle_id=cycle, occurred_at=T0 + timedelta(hours=1))
    days = pipeline.per_day(today=T0.date(), days=3)
    assert [day for day, _ in days] == [T0.date() - timedelta(days=n) for n in range(3)]
    assert days[0][1][Stage.OPEN] == 1 and days[0][1][Stage.CLOSED] == 1
    assert days[2][1][Stage.OPEN] == 1 and days[2][1][Stage.CLOSED] == 0


def test_stuck_lists_cycles_over_their_stage_threshold_longest_first() -> None:
    pipeline = Pipeline()
    late, later, fine, done = (uuid.uuid4() for _ in range(4))
    pipeline.apply(event_type="CycleClosed", cycle_id=late, occurred_at=T0 - timedelta(hours=5))
    pipeline.apply(event_type="CycleClosed", cycle_id=later, occurred_at=T0 - timedelta(hours=3))
    pipeline.apply(event_type="CycleClosed", cycle_id=fine, occurred_at=T0 - timedelta(minutes=30))
    pipeline.apply(event_type="ReportReleased", cycle_id=done, occurred_at=T0 - timedelta(days=400))
    stuck = pipeline.stuck(now=T0, thresholds=DEFAULT_THRESHOLDS)
    assert [s.cycle_id for s in stuck] == [late, later], "closed over 2 hours without a report; released is the end"
    assert stuck[0].waited == timedelta(hours=5) and stuck[0].stage is Stage.CLOSED
    assert pipeline.stuck(now=T0, thresholds=DEFAULT_THRESHOLDS, limit=1) == stuck[:1]
