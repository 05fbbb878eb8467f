"""The dead-letter contract: the headers a dead letter carries, the marker a replayed message carries,
and the entries of the operators' audit topic (docs/adr/0019).

A dead letter is the original message, bytes and key unchanged, with the original's headers (within
bounds) and the `x-dead-letter-*` headers below. An operator may replay it to its source topic (the
same key and headers, without `x-dead-letter-*`, plus `x-hlm360-replay`) or discard it; every
decision is one `DeadLetterAudit` entry per dead letter on the audit topic, which only operators
write and read. Nothing here holds a payload, a reason or any other free text: only ids, names of
topics and consumers, and the operator's login name."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.text import SingleLine

HEADER_PREFIX = "x-dead-letter-"
REASON = "x-dead-letter-reason"
KIND = "x-dead-letter-kind"
CONSUMER = "x-dead-letter-consumer"
SOURCE_TOPIC = "x-dead-letter-source-topic"
SOURCE_PARTITION = "x-dead-letter-source-partition"
SOURCE_OFFSET = "x-dead-letter-source-offset"
AT = "x-dead-letter-at"
BODY = "x-dead-letter-body"
REPLAY = "x-hlm360-replay"

# The original's headers a dead letter keeps: bounded, so an outsized header can never stop a
# message from being dead-lettered (the broker would refuse the record).
MAX_COPIED_HEADERS = 32
MAX_COPIED_HEADER_NAME = 200
MAX_COPIED_HEADER_VALUE = 4000

TopicName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
# The operator's login name (`--by`, else the OS user): who did it, for the audit.
OperatorName = Annotated[SingleLine, StringConstraints(min_length=1, max_length=100)]
Action = Literal["replayed", "discarded"]


class DeadLetterRef(BaseModel):
    """Where a dead letter is: its position on the dead-letter topic. Written `topic:partition:offset`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: TopicName
    partition: int = Field(ge=0, le=100_000)
    offset: int = Field(ge=0)

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


class ReplayMarker(BaseModel):
    """The value of `x-hlm360-replay` (JSON) on a replayed message: which replay, of which dead
    letter, when, by whom. Consumers need not read it: their inbox drops what they already applied."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    replay_id: UUID
    dead_letter: DeadLetterRef
    at: AwareDatetime
    by: OperatorName


class DeadLetterAudit(BaseModel):
    """One operator decision about one dead letter (the audit topic, keyed by the dead letter's ref):
    replayed (to `replayed_to`) or discarded. One action over a filtered set writes one entry per
    dead letter, all with the same `action_id`. No payload, no reason, no headers."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: Literal[1] = 1
    action_id: UUID
    action: Action
    dead_letter: DeadLetterRef
    consumer: Annotated[SingleLine, StringConstraints(max_length=200)]
    source_topic: TopicName | Literal[""]
    replayed_to: DeadLetterRef | None = None
    by: OperatorName
    at: AwareDatetime

    def key(self) -> bytes:
        return str(self.dead_letter).encode()
