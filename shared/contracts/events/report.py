"""Events of a cycle's report: generated, released to the participant."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from shared.contracts.events.base import (
    CycleEvent,
)
from shared.contracts.text import SingleLine


class ReportGenerated(CycleEvent):
    """The 360 report of a closed cycle was compiled."""

    event_type: Literal["ReportGenerated"] = "ReportGenerated"
    report_id: UUID
    participant_id: SingleLine
    organisation: SingleLine
    region: SingleLine
    facilitator_id: UUID | None = None


class ReportReleased(CycleEvent):
    """The participant may now read their report (at or after the feedback session)."""

    event_type: Literal["ReportReleased"] = "ReportReleased"
    report_id: UUID
    reason: Literal["session_completed", "released_by_facilitator", "released_by_admin"] = Field(
        description="session_completed: the facilitator marked the feedback session completed; released_by_admin: "
        "an administrator released it without a completed session (the conversation happened elsewhere); "
        "released_by_facilitator: reserved, not produced by hlm360 today.",
    )
