"""Enumerations shared by every event: rater groups and the nine HLM dimensions."""

from enum import StrEnum


class RaterGroup(StrEnum):
    SELF = "self"
    LINE_MANAGER = "line_manager"
    PEER = "peer"
    DIRECT_REPORT = "direct_report"
    OTHER = "other"


NOMINATED_GROUPS = (RaterGroup.LINE_MANAGER, RaterGroup.PEER, RaterGroup.DIRECT_REPORT, RaterGroup.OTHER)


class Dimension(StrEnum):
    """The nine Healthcare Leadership Model dimensions, in the model's order."""

    INSPIRING_SHARED_PURPOSE = "inspiring_shared_purpose"
    LEADING_WITH_CARE = "leading_with_care"
    EVALUATING_INFORMATION = "evaluating_information"
    CONNECTING_OUR_SERVICE = "connecting_our_service"
    SHARING_THE_VISION = "sharing_the_vision"
    ENGAGING_THE_TEAM = "engaging_the_team"
    HOLDING_TO_ACCOUNT = "holding_to_account"
    DEVELOPING_CAPABILITY = "developing_capability"
    INFLUENCING_FOR_RESULTS = "influencing_for_results"

    @property
    def title(self) -> str:  # type: ignore[override]
        return DIMENSION_TITLES[self]


DIMENSION_TITLES: dict[Dimension, str] = {
    Dimension.INSPIRING_SHARED_PURPOSE: "Inspiring shared purpose",
    Dimension.LEADING_WITH_CARE: "Leading with care",
    Dimension.EVALUATING_INFORMATION: "Evaluating information",
    Dimension.CONNECTING_OUR_SERVICE: "Connecting our service",
    Dimension.SHARING_THE_VISION: "Sharing the vision",
    Dimension.ENGAGING_THE_TEAM: "Engaging the team",
    Dimension.HOLDING_TO_ACCOUNT: "Holding to account",
    Dimension.DEVELOPING_CAPABILITY: "Developing capability",
    Dimension.INFLUENCING_FOR_RESULTS: "Influencing for results",
}


class FundingMethod(StrEnum):
    SELF_FUNDED = "self_funded"
    PURCHASE_ORDER = "purchase_order"
    PROGRAMME_CREDIT = "programme_credit"


class CloseReason(StrEnum):
    ALL_RESPONDED = "all_responded"
    DEADLINE_PASSED = "deadline_passed"
    CLOSED_EARLY = "closed_early"


class SessionMode(StrEnum):
    VIRTUAL = "virtual"
    IN_PERSON = "in_person"
