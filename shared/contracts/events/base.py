"""The envelope every event carries, and the bounded types events are built from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.contracts.text import SINGLE_LINE, SingleLine

CYCLE_ID_EXAMPLE = "6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10"
RATER_ID_EXAMPLE = "0b7e7a5e-93a4-4f7a-8f6c-1c3f0f6a2d11"
FACILITATOR_ID_EXAMPLE = "9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d"

PERSON_NAME_MAX = 100
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PERSON_NAME_MAX), *SINGLE_LINE
]
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2 * PERSON_NAME_MAX + 1), *SINGLE_LINE
]
LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2,3}$")]
Email = Annotated[EmailStr, Field(max_length=254)]  # RFC 5321's limit on a forward path
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=10_000)]  # a 360 has at most 51 raters: far above, within 32 bits
MAX_ANSWERS = 200
MAX_IMPORTANCE = 20
MAX_COMMENTS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Envelope fields shared by every event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key_field: ClassVar[str] = "cycle_id"

    event_id: UUID = Field(
        default_factory=uuid4,
        description="Unique id of this event; consumers use it to ignore redeliveries.",
        examples=["3d2f6c7e-1b1a-4d8e-a0c4-6a1f0e2b9c33"],
    )
    event_type: str = Field(max_length=100, description="Name of the event, equal to the message title.")
    schema_version: Literal[1] = Field(
        default=1, description="Version of this event's schema; a breaking change is a new version."
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utc_now,
        description="When the fact happened, ISO 8601 with a UTC offset.",
        examples=["2026-11-26T09:30:00Z"],
    )
    correlation_id: UUID | None = Field(
        default=None,
        description="Id of the request or event that started this chain of events, if any.",
        examples=[CYCLE_ID_EXAMPLE],
    )
    producer: SingleLine = Field(description="Name of the system that published the event.", examples=["invitations"])

    def kafka_key(self) -> bytes:
        return str(getattr(self, self.key_field)).encode()


class CycleEvent(Event):
    cycle_id: UUID = Field(
        description="Id of the 360 cycle; the Kafka key of every cycle event.",
        examples=[CYCLE_ID_EXAMPLE],
    )
