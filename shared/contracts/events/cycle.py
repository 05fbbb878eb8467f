"""Events of a cycle's life: requested (the intake contract for other NHS systems), opened,
management line changed, deadline extended, close requested, closed."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.events.base import (
    CYCLE_ID_EXAMPLE,
    FACILITATOR_ID_EXAMPLE,
    Count,
    CycleEvent,
    DisplayName,
    Email,
    LanguageCode,
    PersonName,
)
from shared.contracts.text import SingleLine
from shared.contracts.vocabulary import CloseReason, FundingMethod, RaterGroup

# --- CycleRequested: the intake contract for other NHS systems --------------------------------


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    participant_id: SingleLine = Field(
        description="The requesting system's stable id for the person (e.g. an ESR assignment number).",
        examples=["ESR-10293847"],
    )
    given_name: PersonName = Field(examples=["Amara"])
    family_name: PersonName = Field(examples=["Okafor"])
    email: Email = Field(examples=["amara.okafor@example.nhs.uk"])
    organisation: SingleLine = Field(
        description="Employing organisation (used for facilitator conflict-of-interest rules).",
        examples=["Example NHS Foundation Trust"],
    )
    region: SingleLine = Field(default="unspecified", description="NHS region.", examples=["London"])
    management_line: list[Email] = Field(
        default_factory=list,
        max_length=10,
        description="Work emails of the participant's line manager and the managers above them. Used only to keep "
        "facilitators out of the participant's own management line (conflict of interest); never shown or logged. "
        "A nominated line manager rater is added automatically.",
        examples=[["jo.bloggs@example.nhs.uk"]],
    )
    preferred_language: LanguageCode | None = Field(
        default=None,
        description="Language the participant would like their feedback session in: an ISO 639 code "
        "('en', 'cy' for Welsh) or 'bsl' for British Sign Language. Facilitators are matched on it.",
        examples=["cy"],
    )


class RaterNomination(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    group: Literal[RaterGroup.LINE_MANAGER, RaterGroup.PEER, RaterGroup.DIRECT_REPORT, RaterGroup.OTHER] = Field(
        description="Rater group; the participant is added as 'self' automatically.", examples=["peer"]
    )
    name: SingleLine = Field(examples=["Sam Patel"])
    email: Email = Field(examples=["sam.patel@example.nhs.uk"])


class Funding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    method: FundingMethod = Field(examples=["purchase_order"])
    reference: SingleLine = Field(
        description="Payment reference, purchase order number or programme credit account.",
        examples=["PO-2026-000123"],
    )


class CycleRequested(CycleEvent):
    """A 360 was requested for a participant, by a person or another NHS system."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "3d2f6c7e-1b1a-4d8e-a0c4-6a1f0e2b9c33",
                    "event_type": "CycleRequested",
                    "schema_version": 1,
                    "occurred_at": "2026-11-26T09:30:00Z",
                    "producer": "mary-seacole-enrolment",
                    "cycle_id": CYCLE_ID_EXAMPLE,
                    "participant": {
                        "participant_id": "ESR-10293847",
                        "given_name": "Amara",
                        "family_name": "Okafor",
                        "email": "amara.okafor@example.nhs.uk",
                        "organisation": "Example NHS Foundation Trust",
                        "region": "London",
                        "management_line": ["jo.bloggs@example.nhs.uk"],
                        "preferred_language": "en",
                    },
                    "programme": "Mary Seacole Programme 2027 cohort 1",
                    "deadline": "2026-12-17T17:00:00Z",
                    "funding": {"method": "programme_credit", "reference": "MSP-2027-C1"},
                    "raters": [
                        {"group": "line_manager", "name": "Jo Bloggs", "email": "jo.bloggs@example.nhs.uk"},
                        {"group": "peer", "name": "Sam Patel", "email": "sam.patel@example.nhs.uk"},
                    ],
                }
            ]
        }
    )

    event_type: Literal["CycleRequested"] = "CycleRequested"
    participant: Participant
    programme: SingleLine | None = Field(
        default=None, description="Programme requiring the 360, if any.", examples=["Mary Seacole Programme"]
    )
    facilitator_id: UUID | None = Field(
        default=None,
        description="Accredited facilitator chosen by the participant, if any.",
        examples=[FACILITATOR_ID_EXAMPLE],
    )
    deadline: AwareDatetime = Field(description="When the rating window closes.", examples=["2026-12-17T17:00:00Z"])
    funding: Funding
    raters: list[RaterNomination] = Field(
        min_length=1, max_length=50, description="Nominated raters (not including the participant)."
    )


class CycleOpened(CycleEvent):
    """A funded 360 cycle was opened and its raters invited."""

    event_type: Literal["CycleOpened"] = "CycleOpened"
    participant_id: SingleLine
    participant_name: DisplayName = Field(
        description="Display name of the participant (given name, a space, family name), for their own report."
    )
    organisation: SingleLine
    region: SingleLine
    programme: SingleLine | None = None
    participant_email: Email | None = Field(
        default=None,
        description="The participant's own email, for booking their feedback session and sending their report. "
        "Raters' contact details never leave the invitations service (see `management_line`).",
    )
    facilitator_id: UUID | None = None
    management_line: list[Email] = Field(
        default_factory=list,
        max_length=20,
        description="Work emails in the participant's management line (from the request, plus any nominated line "
        "manager, who is identifiable by role in HLM 360 anyway). Only for keeping facilitators out of the "
        "participant's own line; consumers must not show or log them.",
        examples=[["jo.bloggs@example.nhs.uk"]],
    )
    preferred_language: LanguageCode | None = Field(
        default=None, description="Language the participant would like their feedback session in.", examples=["cy"]
    )
    deadline: AwareDatetime
    invited_per_group: dict[RaterGroup, Count] = Field(
        description="How many raters were invited in each group, including 'self'.",
        examples=[{"self": 1, "line_manager": 1, "peer": 3, "direct_report": 3, "other": 2}],
    )


class ManagementLineChanged(CycleEvent):
    """The participant's management line changed after the cycle opened, e.g. a replacement line
    manager was nominated. Carries the whole line as it now is (not a difference). Within a cycle the
    line only grows (a replaced line manager stays in it), so consumers merge lines by union: applying
    one twice, late or out of order changes nothing, and producers' clocks do not matter."""

    event_type: Literal["ManagementLineChanged"] = "ManagementLineChanged"
    management_line: list[Email] = Field(
        max_length=20,
        description="Work emails in the participant's management line, as on CycleOpened. Only for keeping "
        "facilitators out of the participant's own line; consumers must not show or log them.",
        examples=[["jo.bloggs@example.nhs.uk", "new.manager@example.nhs.uk"]],
    )


class CycleDeadlineExtended(CycleEvent):
    """The participant or an admin moved an open cycle's deadline later."""

    event_type: Literal["CycleDeadlineExtended"] = "CycleDeadlineExtended"
    deadline: AwareDatetime


class CycleCloseRequested(CycleEvent):
    """The participant or an admin asked to close an open cycle early (the ratings service closes it)."""

    event_type: Literal["CycleCloseRequested"] = "CycleCloseRequested"
    requested_by: Literal["participant", "admin"]


class CycleClosed(CycleEvent):
    """The rating window of a cycle closed; no further submissions are accepted."""

    event_type: Literal["CycleClosed"] = "CycleClosed"
    reason: CloseReason
    responses_per_group: dict[RaterGroup, Count] = Field(
        description="Number of submitted responses per rater group.",
        examples=[{"self": 1, "line_manager": 1, "peer": 3, "direct_report": 3, "other": 2}],
    )
