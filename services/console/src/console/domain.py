"""Dead letters as typed values, and the rules over them that need no broker: reading a record's
headers, ids (`topic:partition:offset`), ages (`30m`, `2h`, `7d`), filters, which ones an operator
already handled (from the audit), and the headers of a replay. Pure: no Kafka client here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from shared.contracts import deadletters as dl
from shared.contracts.deadletters import DeadLetterAudit, DeadLetterRef, ReplayMarker

Headers = tuple[tuple[str, bytes], ...]
_AGE = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class BadInput(ValueError):
    """An id, age or name an operator typed that cannot be used (the message says why)."""


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic. `value` and `headers` are the original message's: personal
    data, for an administrator's eyes only (`summary` is what anyone else may see)."""

    ref: DeadLetterRef
    key: bytes | None
    value: bytes
    headers: Headers
    timestamp: datetime

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return None

    @property
    def consumer(self) -> str:
        return self.header(dl.CONSUMER) or ""

    @property
    def source_topic(self) -> str:
        return self.header(dl.SOURCE_TOPIC) or ""

    @property
    def kind(self) -> str:
        return self.header(dl.KIND) or ""

    @property
    def reason(self) -> str:
        return self.header(dl.REASON) or ""

    @property
    def dead_lettered_at(self) -> datetime:
        text = self.header(dl.AT)
        try:
            at = datetime.fromisoformat(text) if text else self.timestamp
        except ValueError:
            at = self.timestamp
        return at if at.tzinfo else at.replace(tzinfo=UTC)

    @property
    def body_omitted(self) -> bool:
        return self.header(dl.BODY) is not None

    def original_headers(self) -> Headers:
        """The headers the message had on its source topic: all but `x-dead-letter-*`."""
        return tuple((k, v) for k, v in self.headers if not k.startswith(dl.HEADER_PREFIX))

    def replay_problem(self) -> str | None:
        """Why this dead letter cannot be replayed, or None."""
        if not self.source_topic:
            return "it does not say which topic it came from"
        if self.body_omitted:
            return "its body was too large to keep; the source topic still has it at the offset shown"
        return None

    def summary(self, now: datetime, handled: DeadLetterAudit | None = None) -> Summary:
        return Summary(
            id=str(self.ref),
            consumer=self.consumer,
            source_topic=self.source_topic,
            kind=self.kind,
            reason=self.reason,
            dead_lettered_at=self.dead_lettered_at,
            age=now - self.dead_lettered_at,
            handled=handled,
        )


@dataclass(frozen=True)
class Summary:
    """What a list shows of a dead letter: ids, consumer, topic, reason, age; never a payload or header
    values beyond these (the reason never quotes the message)."""

    id: str
    consumer: str
    source_topic: str
    kind: str
    reason: str
    dead_lettered_at: datetime
    age: timedelta
    handled: DeadLetterAudit | None


def parse_ref(text: str, *, default_topic: str) -> DeadLetterRef:
    """`topic:partition:offset`, or `partition:offset` on the dead-letter topic."""
    parts = text.strip().split(":")
    if len(parts) == 2:
        parts = [default_topic, *parts]
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        raise BadInput(
            "a dead letter's id is topic:partition:offset (or partition:offset), e.g. hlm360.dead-letter.v1:3:7"
        )
    try:
        return DeadLetterRef(topic=parts[0], partition=int(parts[1]), offset=int(parts[2]))
    except ValidationError:
        raise BadInput("a dead letter's id is topic:partition:offset with a valid topic name") from None


def parse_age(text: str) -> timedelta:
    """`90s`, `30m`, `2h`, `7d`, `1w`."""
    match = _AGE.match(text)
    if match is None:
        raise BadInput("an age is a number and a unit: s, m, h, d or w (e.g. 30m, 2h, 7d)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def format_age(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _topic_matches(wanted: str, topic: str) -> bool:
    """The full name, or without the namespace (`cycle-requested.v1`), or without the version too."""
    bare = topic.split(".", 1)[-1]
    return wanted in (topic, bare, re.sub(r"\.v\d+$", "", bare))


@dataclass(frozen=True)
class Filter:
    """Which dead letters: by consumer (`invitations.open-cycle`, or a whole service: `invitations`),
    source topic, kind, a piece of the reason (any case), and age."""

    consumer: str | None = None
    topic: str | None = None
    kind: str | None = None
    reason: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    @property
    def empty(self) -> bool:
        return self == Filter()

    def matches(self, letter: DeadLetter, *, now: datetime) -> bool:
        age = now - letter.dead_lettered_at
        consumer = letter.consumer
        return (
            (self.consumer is None or consumer == self.consumer or consumer.startswith(f"{self.consumer}."))
            and (self.topic is None or _topic_matches(self.topic, letter.source_topic))
            and (self.kind is None or letter.kind == self.kind)
            and (self.reason is None or self.reason.casefold() in letter.reason.casefold())
            and (self.older_than is None or age >= self.older_than)
            and (self.newer_than is None or age <= self.newer_than)
        )


def decisions(entries: Iterable[DeadLetterAudit]) -> dict[str, DeadLetterAudit]:
    """The latest decision about each dead letter, by id (the audit in the order it was read)."""
    latest: dict[str, DeadLetterAudit] = {}
    for entry in entries:
        known = latest.get(str(entry.dead_letter))
        if known is None or entry.at >= known.at:
            latest[str(entry.dead_letter)] = entry
    return latest


def select(
    letters: Sequence[DeadLetter],
    chosen: Filter,
    *,
    handled: dict[str, DeadLetterAudit],
    include_handled: bool,
    now: datetime,
) -> list[DeadLetter]:
    """The dead letters the filter takes, oldest first; those already replayed or discarded only
    with `include_handled`."""
    found = [
        letter
        for letter in letters
        if chosen.matches(letter, now=now) and (include_handled or str(letter.ref) not in handled)
    ]
    return sorted(found, key=lambda letter: (letter.ref.partition, letter.ref.offset))


def replay_headers(letter: DeadLetter, *, replay_id: UUID, by: str, at: datetime) -> list[tuple[str, bytes]]:
    """The original's headers (an earlier replay marker replaced) and this replay's marker."""
    marker = ReplayMarker(replay_id=replay_id, dead_letter=letter.ref, at=at, by=by)
    kept = [(k, v) for k, v in letter.original_headers() if k != dl.REPLAY]
    return [*kept, (dl.REPLAY, marker.model_dump_json().encode())]


def operator(text: str) -> str:
    """An operator's name for the audit: one line, 1..100 characters."""
    try:
        return str(TypeAdapter(dl.OperatorName).validate_python(text.strip()))
    except ValidationError:
        raise BadInput("--by: a name of 1 to 100 characters on one line") from None
