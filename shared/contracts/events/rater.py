"""Events about one rater: nominated, invited, withdrawn, declined, responded. Pseudonymous rater
ids only; never names, emails or answers."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import ConfigDict, Field

from shared.contracts.events.base import (
    CYCLE_ID_EXAMPLE,
    RATER_ID_EXAMPLE,
    CycleEvent,
    Sha256Hex,
)
from shared.contracts.text import FreeText
from shared.contracts.vocabulary import RaterGroup


class RaterNominated(CycleEvent):
    """A rater was nominated. Carries a pseudonymous rater id, never the person's name or email."""

    event_type: Literal["RaterNominated"] = "RaterNominated"
    rater_id: UUID = Field(description="Pseudonymous rater id.", examples=[RATER_ID_EXAMPLE])
    group: RaterGroup
    link_token_sha256: Sha256Hex = Field(
        description="SHA-256 (hex) of the rater's personal link token; the token itself is only in the email."
    )
    replaces_rater_id: UUID | None = Field(
        default=None, description="Set when this rater replaces one who declined or whose email bounced."
    )


class RaterWithdrawn(CycleEvent):
    """A rater no longer counts towards the cycle (email bounced, or replaced); their link stops working."""

    event_type: Literal["RaterWithdrawn"] = "RaterWithdrawn"
    rater_id: UUID
    group: RaterGroup
    reason: Literal["bounced", "replaced", "removed"]


class RaterDeclined(CycleEvent):
    """A rater declined to give feedback. The optional reason is for the participant's eyes only."""

    event_type: Literal["RaterDeclined"] = "RaterDeclined"
    rater_id: UUID
    group: RaterGroup
    reason: FreeText | None = None


class InvitationSent(CycleEvent):
    """An invitation email left for a rater."""

    event_type: Literal["InvitationSent"] = "InvitationSent"
    rater_id: UUID = Field(examples=[RATER_ID_EXAMPLE])
    group: RaterGroup


class ResponseReceived(CycleEvent):
    """A rater's response to a cycle was received: the fact only, for those who follow progress.

    Carries no answers, importance or comments, and no link to them: the answers travel on
    `RatingSubmitted`, which only reports reads. Emitted in the same transaction as that event."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "5a0c2e7d-8b44-4c1f-9e2a-3f6b1d7c9e12",
                    "event_type": "ResponseReceived",
                    "schema_version": 1,
                    "occurred_at": "2026-12-03T14:05:00Z",
                    "correlation_id": CYCLE_ID_EXAMPLE,
                    "producer": "ratings",
                    "cycle_id": CYCLE_ID_EXAMPLE,
                    "rater_id": RATER_ID_EXAMPLE,
                    "group": "peer",
                }
            ]
        }
    )

    event_type: Literal["ResponseReceived"] = "ResponseReceived"
    rater_id: UUID = Field(description="Pseudonymous id of the rater who responded.", examples=[RATER_ID_EXAMPLE])
    group: RaterGroup
