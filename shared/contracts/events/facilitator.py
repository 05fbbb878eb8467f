"""Events of the facilitator register; keyed by `facilitator_id`."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from shared.contracts.events.base import (
    FACILITATOR_ID_EXAMPLE,
    Email,
    Event,
)
from shared.contracts.text import SingleLine
from shared.contracts.vocabulary import SessionMode


class FacilitatorEvent(Event):
    key_field: ClassVar[str] = "facilitator_id"
    facilitator_id: UUID = Field(description="Kafka key of facilitator events.", examples=[FACILITATOR_ID_EXAMPLE])


class FacilitatorRegistered(FacilitatorEvent):
    """A facilitator joined a regional register (directory information, not personal feedback)."""

    event_type: Literal["FacilitatorRegistered"] = "FacilitatorRegistered"
    name: SingleLine
    email: Email
    region: SingleLine
    organisation: SingleLine
    languages: list[SingleLine] = Field(default_factory=lambda: ["English"], max_length=50)
    monthly_capacity: int = Field(ge=0, le=100)


class FacilitatorAccredited(FacilitatorEvent):
    """A facilitator passed the e-learning (>= 80%) and completed the one-day course."""

    event_type: Literal["FacilitatorAccredited"] = "FacilitatorAccredited"
    elearning_score: int = Field(ge=0, le=100)
    elearning_passed_on: date
    course_completed_on: date


class FacilitatorStatusChanged(FacilitatorEvent):
    """A facilitator became active, lapsed or suspended."""

    event_type: Literal["FacilitatorStatusChanged"] = "FacilitatorStatusChanged"
    status: Literal["active", "lapsed", "suspended"]


class AvailabilityPublished(FacilitatorEvent):
    """A facilitator's free feedback-session capacity changed (summary; slots stay in scheduling)."""

    event_type: Literal["AvailabilityPublished"] = "AvailabilityPublished"
    free_slots: int = Field(ge=0, le=10_000, description="Free session slots (bounded: a database integer).")
    next_free_slot_at: AwareDatetime | None = None
    modes: list[SessionMode] = Field(default_factory=list, max_length=10)
