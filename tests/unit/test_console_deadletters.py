"""The dead-letter rules that need no broker (console.domain): ids, ages, filters, decisions from the
audit, replay headers; and the original headers a dead letter keeps (shared.consumers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from console.domain import (
    BadInput,
    DeadLetter,
    Filter,
    decisions,
    format_age,
    operator,
    parse_age,
    parse_ref,
    replay_headers,
    select,
)
from shared.consumers import copied_headers
from shared.contracts import deadletters as dl
from shared.contracts.deadletters import DeadLetterAudit, DeadLetterRef, ReplayMarker

DLQ = "hlm360.dead-letter.v1"
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def letter(
    offset: int,
    *,
    consumer: str = "invitations.open-cycle",
    topic: str = "hlm360.cycle-requested.v1",
    reason: str = "rejected: there is no programme credit account with that reference",
    kind: str = "rejected",
    age: timedelta = timedelta(hours=1),
    partition: int = 0,
    extra: tuple[tuple[str, bytes], ...] = (),
) -> DeadLetter:
    headers = (
        ("event_type", b"CycleRequested"),
        *extra,
        (dl.REASON, reason.encode()),
        (dl.KIND, kind.encode()),
        (dl.CONSUMER, consumer.encode()),
        (dl.SOURCE_TOPIC, topic.encode()),
        (dl.SOURCE_PARTITION, b"4"),
        (dl.SOURCE_OFFSET, b"99"),
        (dl.AT, (NOW - age).isoformat().encode()),
    )
    return DeadLetter(
        ref=DeadLetterRef(topic=DLQ, partition=partition, offset=offset),
        key=b"cycle-1",
        value=b'{"event_type": "CycleRequested"}',
        headers=headers,
        timestamp=NOW - age,
    )


def audit(ref: DeadLetterRef, action: dl.Action, *, at: datetime = NOW) -> DeadLetterAudit:
    return DeadLetterAudit(
        action_id=uuid4(), action=action, dead_letter=ref, consumer="c", source_topic="t", by="operator", at=at
    )


def test_ids_are_topic_partition_offset_or_partition_offset_on_the_dead_letter_topic() -> None:
    assert parse_ref(f"{DLQ}:3:17", default_topic="other") == DeadLetterRef(topic=DLQ, partition=3, offset=17)
    assert str(parse_ref("3:17", default_topic=DLQ)) == f"{DLQ}:3:17"
    for bad in ("", "3", "a:b:c", f"{DLQ}:-1:2", f"{DLQ}:1:2:3", "bad topic!:1:2"):
        with pytest.raises(BadInput):
            parse_ref(bad, default_topic=DLQ)


def test_ages_take_a_number_and_a_unit() -> None:
    assert parse_age("90s") == timedelta(seconds=90)
    assert parse_age(" 2h ") == timedelta(hours=2)
    assert parse_age("7d") == timedelta(days=7) and parse_age("1w") == timedelta(weeks=1)
    for bad in ("", "2", "h", "2y", "-1h", "1.5h"):
        with pytest.raises(BadInput):
            parse_age(bad)
    assert [format_age(timedelta(seconds=s)) for s in (5, 120, 7200, 200000)] == ["5s", "2m", "2h", "2d"]


def test_filters_by_consumer_or_service_topic_kind_reason_and_age() -> None:
    old = letter(1, age=timedelta(days=3))
    new = letter(2, consumer="ratings.cycle-opened", topic="hlm360.cycle-opened.v1", kind="failed", reason="Boom")
    assert Filter().empty and not Filter(reason="x").empty
    assert Filter(consumer="invitations").matches(old, now=NOW)
    assert Filter(consumer="invitations.open-cycle").matches(old, now=NOW)
    assert not Filter(consumer="invitations.open").matches(old, now=NOW), "a consumer, or a whole service"
    for name in ("hlm360.cycle-opened.v1", "cycle-opened.v1", "cycle-opened"):
        assert Filter(topic=name).matches(new, now=NOW) and not Filter(topic=name).matches(old, now=NOW)
    assert Filter(kind="failed").matches(new, now=NOW) and not Filter(kind="failed").matches(old, now=NOW)
    assert Filter(reason="PROGRAMME CREDIT").matches(old, now=NOW)
    assert Filter(older_than=timedelta(days=1)).matches(old, now=NOW)
    assert not Filter(older_than=timedelta(days=1)).matches(new, now=NOW)
    assert Filter(newer_than=timedelta(hours=2)).matches(new, now=NOW)
    assert not Filter(newer_than=timedelta(hours=2)).matches(old, now=NOW)


def test_replayed_or_discarded_letters_are_left_out_unless_asked_for_and_the_latest_decision_counts() -> None:
    letters = [letter(3, partition=1), letter(2), letter(1)]
    entries = [
        audit(letters[1].ref, "replayed", at=NOW - timedelta(minutes=5)),
        audit(letters[1].ref, "discarded", at=NOW),
    ]
    handled = decisions(entries)
    assert handled[str(letters[1].ref)].action == "discarded"
    chosen = select(letters, Filter(), handled=handled, include_handled=False, now=NOW)
    assert [str(x.ref) for x in chosen] == [f"{DLQ}:0:1", f"{DLQ}:1:3"], "dead-letter order, the handled one left out"
    assert len(select(letters, Filter(), handled=handled, include_handled=True, now=NOW)) == 3


def test_a_replay_keeps_the_original_headers_and_adds_one_marker() -> None:
    first = DeadLetterRef(topic=DLQ, partition=0, offset=0)
    earlier = ReplayMarker(replay_id=uuid4(), dead_letter=first, at=NOW, by="a")
    dead = letter(5, extra=((dl.REPLAY, earlier.model_dump_json().encode()), ("traceparent", b"00-abc")))
    replay_id = uuid4()
    headers = replay_headers(dead, replay_id=replay_id, by="operator", at=NOW)
    names = [name for name, _ in headers]
    assert names == ["event_type", "traceparent", dl.REPLAY], "no x-dead-letter-* header, one marker"
    marker = ReplayMarker.model_validate_json(dict(headers)[dl.REPLAY])
    assert (marker.replay_id, marker.dead_letter, marker.by) == (replay_id, dead.ref, "operator")


def test_what_a_list_shows_holds_no_payload_or_headers() -> None:
    summary = letter(7).summary(NOW)
    shown = json.dumps({k: str(v) for k, v in vars(summary).items()})
    assert "CycleRequested" not in shown and summary.age == timedelta(hours=1)
    assert summary.id == f"{DLQ}:0:7" and summary.consumer == "invitations.open-cycle"


def test_letters_that_cannot_be_replayed_say_why() -> None:
    assert letter(1).replay_problem() is None
    assert "topic" in (letter(1, topic="").replay_problem() or "")
    omitted = letter(1, extra=((dl.BODY, b"omitted"),))
    assert "too large" in (omitted.replay_problem() or "")


def test_the_operator_name_is_one_short_line() -> None:
    assert operator(" ops.jane ") == "ops.jane"
    for bad in ("", "a\nb", "x" * 101):
        with pytest.raises(BadInput):
            operator(bad)


def test_a_dead_letter_keeps_the_originals_headers_within_bounds() -> None:
    many = {f"h{i}": "v" for i in range(100)}
    assert len(copied_headers(many)) == dl.MAX_COPIED_HEADERS
    kept = copied_headers(
        {
            "event_type": "CycleRequested",
            dl.REASON: "forged by the sender",
            "huge": "x" * (dl.MAX_COPIED_HEADER_VALUE + 1),
            "n" * (dl.MAX_COPIED_HEADER_NAME + 1): "v",
        }
    )
    assert kept == {"event_type": "CycleRequested"}
