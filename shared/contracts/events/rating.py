"""Answers: a rater's response to a 360, and the free self-assessment."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.events.base import (
    MAX_ANSWERS,
    MAX_COMMENTS,
    MAX_IMPORTANCE,
    RATER_ID_EXAMPLE,
    CycleEvent,
    Event,
    Sha256Hex,
)
from shared.contracts.text import FreeText, SingleLine
from shared.contracts.vocabulary import Dimension, RaterGroup


class ItemAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    item_id: SingleLine = Field(examples=["ISP-E"])
    dimension: Dimension
    score: int | None = Field(
        ge=1, le=5, description="1 (rarely) to 5 (almost always); null when 'not observed'.", examples=[4]
    )


class ImportanceAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    dimension: Dimension
    score: int = Field(ge=1, le=5, description="Importance of the dimension to the participant's role.")


class CommentAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    question_id: SingleLine = Field(examples=["overall_strengths"])
    text: FreeText


class RatingSubmitted(CycleEvent):
    """A rater submitted their questionnaire. Pseudonymous: rater id and group only. Only reports
    reads it; the fact of the response alone is `ResponseReceived`, emitted with it."""

    event_type: Literal["RatingSubmitted"] = "RatingSubmitted"
    rater_id: UUID = Field(examples=[RATER_ID_EXAMPLE])
    group: RaterGroup
    questionnaire_version: SingleLine = Field(examples=["hlm360-default-1"])
    answers: list[ItemAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)
    importance: list[ImportanceAnswer] = Field(default_factory=list, max_length=MAX_IMPORTANCE)
    comments: list[CommentAnswer] = Field(default_factory=list, max_length=MAX_COMMENTS)


class SelfAssessmentCompleted(Event):
    """Someone completed the free HLM self-assessment (no 360). Private to them."""

    key_field: ClassVar[str] = "assessment_id"
    event_type: Literal["SelfAssessmentCompleted"] = "SelfAssessmentCompleted"
    assessment_id: UUID
    access_token_sha256: Sha256Hex = Field(
        description="SHA-256 of the person's private link token; only they hold the token."
    )
    questionnaire_version: SingleLine
    answers: list[ItemAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)
    importance: list[ImportanceAnswer] = Field(default_factory=list, max_length=MAX_IMPORTANCE)
    comments: list[CommentAnswer] = Field(default_factory=list, max_length=MAX_COMMENTS)
