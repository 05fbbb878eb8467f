"""The pipeline as the console sees it, from the lifecycle events on Kafka: pure, no I/O.

Each cycle's stage is the furthest lifecycle event seen for it (events may arrive out of order
across topics); per day, how many cycles reached each stage; and the cycles that have stayed in a
stage longer than its threshold ("stuck"), oldest first. Only ids, stage names and times are kept:
nothing about people."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum
from uuid import UUID


class Stage(IntEnum):
    """The stages in order: a cycle's stage only moves forward."""

    REQUESTED = 1
    OPEN = 2
    CLOSED = 3
    REPORTED = 4
    BOOKED = 5
    RELEASED = 6

    @property
    def label(self) -> str:
        return self.name.capitalize()


# The lifecycle event that moves a cycle into each stage (CycleRequested comes only from other NHS
# systems on Kafka; a 360 asked for on the start page first appears when it opens).
STAGE_OF_EVENT: dict[str, Stage] = {
    "CycleRequested": Stage.REQUESTED,
    "CycleOpened": Stage.OPEN,
    "CycleClosed": Stage.CLOSED,
    "ReportGenerated": Stage.REPORTED,
    "FeedbackSessionScheduled": Stage.BOOKED,
    "ReportReleased": Stage.RELEASED,
}
# How long a cycle may stay in a stage before an operator should look (RELEASED is the end).
DEFAULT_THRESHOLDS: dict[Stage, timedelta] = {
    Stage.REQUESTED: timedelta(hours=1),  # a request that never opened: a dead letter or a stuck consumer
    Stage.OPEN: timedelta(days=42),  # the longest rating window plus extensions
    Stage.CLOSED: timedelta(hours=2),  # a report is compiled within minutes of closing
    Stage.REPORTED: timedelta(days=28),  # no feedback session booked
    Stage.BOOKED: timedelta(days=42),  # the session has not released the report
}


@dataclass
class CycleProgress:
    cycle_id: UUID
    stage: Stage
    since: datetime  # when the cycle reached its current stage
    reached: dict[Stage, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class StuckCycle:
    cycle_id: UUID
    stage: Stage
    since: datetime
    waited: timedelta


@dataclass
class Pipeline:
    cycles: dict[UUID, CycleProgress] = field(default_factory=dict)
    events_seen: int = 0

    def apply(self, *, event_type: str, cycle_id: UUID, occurred_at: datetime) -> bool:
        """Take one lifecycle event into account; False if it is not a lifecycle event."""
        stage = STAGE_OF_EVENT.get(event_type)
        if stage is None:
            return False
        self.events_seen += 1
        progress = self.cycles.get(cycle_id)
        if progress is None:
            progress = self.cycles[cycle_id] = CycleProgress(cycle_id=cycle_id, stage=stage, since=occurred_at)
        first = progress.reached.get(stage)
        progress.reached[stage] = occurred_at if first is None else min(first, occurred_at)
        if stage > progress.stage or (stage == progress.stage and progress.since > occurred_at):
            progress.stage, progress.since = stage, progress.reached[stage]
        return True

    def per_day(self, *, today: date, days: int) -> list[tuple[date, dict[Stage, int]]]:
        """For each of the last `days` days (newest first), how many cycles reached each stage."""
        counts: Counter[tuple[date, Stage]] = Counter(
            (moment.date(), stage) for progress in self.cycles.values() for stage, moment in progress.reached.items()
        )
        return [
            (day, {stage: counts[(day, stage)] for stage in Stage})
            for day in (today - timedelta(days=n) for n in range(days))
        ]

    def in_stage(self) -> dict[Stage, int]:
        """How many cycles are in each stage now."""
        current = Counter(progress.stage for progress in self.cycles.values())
        return {stage: current[stage] for stage in Stage}

    def stuck(self, *, now: datetime, thresholds: dict[Stage, timedelta], limit: int = 100) -> list[StuckCycle]:
        """Cycles in a stage for longer than its threshold, the longest waiting first."""
        found = [
            StuckCycle(cycle_id=p.cycle_id, stage=p.stage, since=p.since, waited=now - p.since)
            for p in self.cycles.values()
            if p.stage in thresholds and now - p.since > thresholds[p.stage]
        ]
        return sorted(found, key=lambda s: s.since)[:limit]
