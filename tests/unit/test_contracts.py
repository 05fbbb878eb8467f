from datetime import datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from shared.contracts.events import CycleClosed, CycleRequested
from shared.contracts.topics import topic_for
from shared.contracts.vocabulary import CloseReason, RaterGroup
from shared.messaging import validation_reason


def test_topics_are_kebab_case_and_versioned() -> None:
    assert topic_for(CycleRequested) == "hlm360.cycle-requested.v1"
    assert topic_for(CycleClosed) == "hlm360.cycle-closed.v1"


def test_events_default_envelope_is_utc_aware_and_keyed_by_cycle() -> None:
    cycle_id = uuid4()
    event = CycleClosed(
        producer="ratings", cycle_id=cycle_id, reason=CloseReason.CLOSED_EARLY, responses_per_group={RaterGroup.SELF: 1}
    )
    assert event.occurred_at.tzinfo is not None
    assert event.kafka_key() == str(cycle_id).encode()


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError):
        CycleClosed(
            producer="x",
            cycle_id=uuid4(),
            reason=CloseReason.CLOSED_EARLY,
            responses_per_group={},
            occurred_at=datetime(2026, 1, 1),
        )


def test_validation_reason_names_fields_but_never_echoes_values() -> None:
    body = '{"event_type": "CycleRequested", "producer": "x", "participant": {"email": "secret.person@@nhs"}}'
    with pytest.raises(ValidationError) as caught:
        CycleRequested.model_validate_json(body)
    reason = validation_reason(caught.value)
    assert "participant.email" in reason and "cycle_id" in reason
    assert "secret.person" not in reason
