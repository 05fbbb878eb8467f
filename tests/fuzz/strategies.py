"""Hypothesis strategies for Kafka message bodies, and the consumers they are aimed at.

Three strategies per event type: arbitrary bytes, arbitrary JSON (deep nesting, NaN, event-shaped
objects with random field values), and events generated from docs/asyncapi.json (the schema with
its $refs resolved) and then mutated: a field deleted, a value of another type, a forbidden
character in a string, a list or string oversized. Examples are drawn up front, outside the event
loop (`draw_examples`), because sending them is asynchronous."""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import hypothesis.internal.conjecture.utils as conjecture_utils
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from shared.contracts.events import EVENT_TYPES, Event
from tests.config import REPO

SERVICES = ("invitations", "ratings", "reports", "scheduling")
EXAMPLES = int(os.environ.get("HLM360_FUZZ_EXAMPLES", "20"))
# A fresh seed each run (that is the point of fuzzing), printed so a failure can be replayed.
SEED = int(os.environ.get("HLM360_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
ASYNCAPI = REPO / "docs" / "asyncapi.json"
FORBIDDEN = ["\x00", "\x07", "\x0b", "\r", "\n", "\x1b", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e", "\u2066"]
Json = Any
JsonPath = tuple[str | int, ...]


# --- which consumers there are -----------------------------------------------------------------


@dataclass(frozen=True)
class Subscription:
    service: str
    name: str
    event_type: type[Event]

    def group(self, prefix: str) -> str:
        """The consumer's name: its Kafka group and its x-dead-letter-consumer header."""
        return f"{prefix}.{self.name}"


class _Recorder:
    """Stands in for a ServiceRuntime while a service's handlers.register runs: notes each `on`."""

    def __init__(self, service: str, found: list[Subscription]) -> None:
        self.consumers = self
        self._service = service
        self._found = found

    def on(self, event_type: type[Event], *, name: str, **_: object) -> Callable[[Any], Any]:
        self._found.append(Subscription(self._service, name, event_type))
        return lambda use_case: use_case


def registered_subscriptions() -> list[Subscription]:
    """Every (service, event type) subscription the four services' handlers.register make."""
    found: list[Subscription] = []
    for service in SERVICES:
        register = importlib.import_module(f"{service}.handlers").register
        extra = [None] * (len(inspect.signature(register).parameters) - 1)  # settings: only closed over
        register(_Recorder(service, found), *extra)
    return found


# --- schemas from the AsyncAPI document ------------------------------------------------------


def message_schema(event_type: type[Event]) -> dict[str, Json]:
    """The payload schema AsyncAPI documents for `event_type`, with its $refs resolved in place."""
    document = json.loads(ASYNCAPI.read_text(encoding="utf-8"))
    schemas: dict[str, Json] = document["components"]["schemas"]
    message = document["components"]["messages"][f"{event_type.__name__}:Message"]

    def resolve(node: Json, depth: int = 0) -> Json:
        assert depth < 20, "a recursive schema"
        if isinstance(node, list):
            return [resolve(item, depth + 1) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = resolve(schemas[node["$ref"].rsplit("/", 1)[1]], depth + 1)
            return {**target, **{k: resolve(v, depth + 1) for k, v in node.items() if k != "$ref"}}
        return {k: resolve(v, depth + 1) for k, v in node.items() if k not in ("examples", "example")}

    schema: dict[str, Json] = resolve(message["payload"])
    return schema


class _ManyAdapter:
    """hypothesis-jsonschema 0.23 drives hypothesis' `many` with more()/reject(); newer hypothesis
    only offers iteration. This adapter keeps the dev dependency usable until it catches up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._many = conjecture_utils.many(*args, **kwargs)
        self._many.__enter__()
        self._elements = iter(self._many)

    def more(self) -> bool:
        try:
            next(self._elements)
        except StopIteration:
            self._many.__exit__(None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


@functools.cache
def schema_strategy(event_type: type[Event]) -> st.SearchStrategy[Json]:
    """Events valid by the AsyncAPI schema. hypothesis-jsonschema is imported here, on first use:
    it builds strategies at import, which makes hypothesis warn while conftest files load."""
    import hypothesis_jsonschema._from_schema as internals
    from hypothesis_jsonschema import from_schema

    if not hasattr(conjecture_utils.many, "more"):
        names = {n: getattr(conjecture_utils, n) for n in dir(conjecture_utils) if not n.startswith("__")}
        internals.cu = SimpleNamespace(**{**names, "many": _ManyAdapter})  # type: ignore[assignment,attr-defined]
    return from_schema(message_schema(event_type), custom_formats={"uuid": st.uuids().map(str)})


# --- the strategies -------------------------------------------------------------------------


@functools.cache
def json_values() -> st.SearchStrategy[Json]:
    """Any JSON value (and NaN, infinities, integers past 64 bits). Built on first use: building
    strategies while conftest files load makes hypothesis warn."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text()
        | st.integers(min_value=2**63, max_value=2**70)
    )
    return st.recursive(
        scalars,
        lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
        max_leaves=40,
    )


def _dumps(value: Json, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", errors="surrogatepass")


@st.composite
def deep_json(draw: st.DrawFn) -> bytes:
    """Nesting deeper than any event (and than Python's json can decode), as text."""
    depth = draw(st.integers(min_value=20, max_value=5000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('{"participant":', "}")]))
    return (opener * depth + draw(st.sampled_from(["null", "1", '""', "[]"])) + closer * depth).encode()


def arbitrary_bytes() -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=2048),
        st.text(max_size=500).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
        st.binary(min_size=1, max_size=200).map(lambda b: b'{"event_type": "' + b + b'"}'),
        st.binary(max_size=64).map(lambda b: b"\xef\xbb\xbf{" + b),  # a byte-order mark, then junk
    )


def arbitrary_json(event_type: type[Event]) -> st.SearchStrategy[bytes]:
    fields = sorted(name for name in event_type.model_fields if name != "event_type")
    event_shaped = st.fixed_dictionaries(
        {"event_type": st.just(event_type.__name__) | json_values()},
        optional={name: json_values() for name in fields},
    )
    return st.one_of(
        st.builds(_dumps, json_values(), st.booleans()),
        st.builds(_dumps, event_shaped, st.booleans()),
        deep_json(),
    )


def _paths(value: Json, path: JsonPath = ()) -> list[tuple[JsonPath, Json]]:
    found = [(path, value)] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replace(root: Json, path: JsonPath, value: Json) -> None:
    for step in path[:-1]:
        root = root[step]
    root[path[-1]] = value


def _delete(root: Json, path: JsonPath) -> None:
    for step in path[:-1]:
        root = root[step]
    del root[path[-1]]


def _other_type(value: Json) -> st.SearchStrategy[Json]:
    options: list[st.SearchStrategy[Json]] = [
        st.none(),
        st.booleans(),
        st.integers(),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=3),
        st.just({"unexpected": 1}),
    ]
    kinds = (type(None), bool, int, str, list, dict)
    return st.one_of([o for o, kind in zip(options, kinds, strict=True) if type(value) is not kind])


@st.composite
def mutated_event(draw: st.DrawFn, event_type: type[Event]) -> bytes:
    """A schema-valid event, then one mutation (the kind of mistake or attack a producer makes)."""
    schema = message_schema(event_type)
    event = copy.deepcopy(draw(schema_strategy(event_type)))
    paths = _paths(event)
    strings = [(p, v) for p, v in paths if isinstance(v, str)]
    lists = [(p, v) for p, v in paths if isinstance(v, list)]
    mutation = draw(st.sampled_from(["delete", "retype", "forbidden-char", "oversize"]))
    if mutation == "delete":
        required: list[JsonPath] = [(k,) for k in schema.get("required", []) if k in event]
        candidates = required or [p for p, _ in paths]
        if candidates:
            _delete(event, draw(st.sampled_from(candidates)))
    elif mutation == "retype" and paths:
        path, value = draw(st.sampled_from(paths))
        _replace(event, path, draw(_other_type(value)))
    elif mutation == "forbidden-char" and strings:
        path, value = draw(st.sampled_from(strings))
        at = draw(st.integers(min_value=0, max_value=len(value)))
        _replace(event, path, value[:at] + draw(st.sampled_from(FORBIDDEN)) + value[at:])
    elif lists or strings:
        path, value = draw(st.sampled_from(lists + strings))
        size = draw(st.sampled_from([51, 201, 1001, 5001, 60_000]))
        filler = value or ([draw(json_values())] if isinstance(value, list) else "x")
        while True:  # within what Kafka takes (1 MiB): the service's own limit is what is tested
            _replace(event, path, (filler * size)[:size])
            if len(_dumps(event, True)) < 900_000 or size < 2:
                break
            size //= 2
    return _dumps(event, draw(st.booleans()))


STRATEGIES: dict[str, Callable[[type[Event]], st.SearchStrategy[bytes]]] = {
    "bytes": lambda _: arbitrary_bytes(),
    "json": arbitrary_json,
    "mutated": mutated_event,
}


def draw_examples(strategy: st.SearchStrategy[bytes], count: int = EXAMPLES) -> list[bytes]:
    """Up to `count` examples from `strategy`, generated by hypothesis' engine (not .example())."""
    drawn: list[bytes] = []

    @seed(SEED)
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(body: bytes) -> None:
        drawn.append(body)

    collect()
    return drawn


def fixed_examples(valid: Event) -> dict[str, bytes]:
    """Every consumer also gets these: over the size limit, empty, nested past any parser, and a
    valid event of its type with every number past 64 bits (valid unless the contract bounds it)."""

    def huge(value: Json) -> Json:
        if isinstance(value, dict):
            return {k: v if k == "schema_version" else huge(v) for k, v in value.items()}
        if isinstance(value, list):
            return [huge(v) for v in value]
        return 2**63 if isinstance(value, int) and not isinstance(value, bool) else value

    return {
        "oversize": b'{"event_type": "' + b"x" * (600 * 1024) + b'"}',
        "empty": b"",
        "deep": b"[" * 100_000 + b"]" * 100_000,
        "huge-numbers": json.dumps(huge(json.loads(valid.model_dump_json()))).encode(),
    }


EVENT_TYPE_NAMES = {t.__name__: t for t in EVENT_TYPES}
