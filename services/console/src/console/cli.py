"""`hlm360`: one command line for operators (typer; docs/adr/0019).

- `hlm360 dead-letters list|show|replay|discard|audit`: the dead-letter topic, as the operators' Kafka
  principal (HLM360_KAFKA_*, .local/operator.env). Lists show ids, consumer, topic, kind, age and
  reason; `show` also the headers and payload (the login is the administrators'). Replay and discard
  take ids or a filter, say how many, and ask unless `--yes`; every decision is audited.
- `hlm360 topics ensure`: create the contract's missing topics.
- `hlm360 invitations|ratings|reports|scheduling ...`: that service's own command line (its cli.py),
  imported only when the command runs.

`--help` at any level reads no settings and touches neither the database nor Kafka."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from console.config import Settings, operator_name
from console.deadletters import ActionFailed, DeadLetters, NoSuchTopic
from console.domain import (
    BadInput,
    DeadLetter,
    Filter,
    decisions,
    format_age,
    operator,
    parse_age,
    parse_ref,
    select,
)
from shared.commands import confirm, load_settings
from shared.contracts.deadletters import DeadLetterAudit, DeadLetterRef

T = TypeVar("T")
SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations")
Decisions = dict[str, DeadLetterAudit]
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="hlm360",
    help="Operator commands of hlm360: dead letters, topics, and each service's own commands.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
dead_letters = typer.Typer(help="Inspect, replay or discard dead letters (every decision is audited).")
topics = typer.Typer(help="Kafka topics of the contract.")
app.add_typer(dead_letters, name="dead-letters", no_args_is_help=True)
app.add_typer(topics, name="topics", no_args_is_help=True)
web = typer.Typer(help="The operators' web console.")
app.add_typer(web, name="console", no_args_is_help=True)

Consumer = Annotated[str | None, typer.Option(help="a consumer (invitations.open-cycle) or a whole service")]
Topic = Annotated[str | None, typer.Option(help="the source topic (hlm360.cycle-requested.v1 or cycle-requested)")]
Kind = Annotated[str | None, typer.Option(help="undecodable, invalid, rejected or failed")]
Reason = Annotated[str | None, typer.Option(help="a piece of the reason (any case)")]
OlderThan = Annotated[str | None, typer.Option(help="dead-lettered at least this long ago: 30m, 2h, 7d")]
NewerThan = Annotated[str | None, typer.Option(help="dead-lettered at most this long ago")]
Everything = Annotated[bool, typer.Option("--all", help="include dead letters already replayed or discarded")]
Ids = Annotated[
    list[str] | None, typer.Argument(metavar="ID", help="ids (topic:partition:offset, as listed), or use filters")
]
By = Annotated[str | None, typer.Option(help="who acts, for the audit (default: $HLM360_OPERATOR, else $USER)")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="do it without asking for confirmation")]


def _library(settings: Settings) -> DeadLetters:
    from shared.messaging import client_options

    if settings.kafka_username is None:
        err.print("no Kafka login: set HLM360_KAFKA_USERNAME and HLM360_KAFKA_PASSWORD (.local/operator.env)")
        raise typer.Exit(2)

    return DeadLetters(
        client_options(settings),
        read_timeout_seconds=settings.read_timeout_seconds,
        batch_size=settings.replay_batch_size,
    )


def _run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except NoSuchTopic as missing:
        err.print(f"topic {missing} does not exist: `hlm360 topics ensure` creates the contract's topics", markup=False)
        raise typer.Exit(2) from None
    except TimeoutError as slow:
        err.print(str(slow), markup=False)
        raise typer.Exit(1) from None


def _progress(what: str) -> Progress:
    columns = (TextColumn(f"[bold]{what}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress(*columns, console=err, transient=True)


async def _read_all(library: DeadLetters) -> tuple[list[DeadLetter], Decisions]:
    with _progress("Reading dead letters") as progress:
        task = progress.add_task("read", total=None)
        letters = await library.read(
            on_total=lambda total: progress.update(task, total=total), advance=lambda n: progress.advance(task, n)
        )
    return letters, decisions(await library.audit())


def _filter(
    consumer: str | None, topic: str | None, kind: str | None, reason: str | None, older: str | None, newer: str | None
) -> Filter:
    try:
        return Filter(
            consumer=consumer,
            topic=topic,
            kind=kind,
            reason=reason,
            older_than=parse_age(older) if older else None,
            newer_than=parse_age(newer) if newer else None,
        )
    except BadInput as bad:
        raise typer.BadParameter(str(bad)) from None


@dead_letters.command("list")
def list_(
    consumer: Consumer = None,
    topic: Topic = None,
    kind: Kind = None,
    reason: Reason = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    everything: Everything = False,
    limit: Annotated[int, typer.Option(min=1, help="show at most this many (the oldest)")] = 500,
) -> None:
    """List dead letters: id, consumer, source topic, kind, age, reason (never headers or payloads)."""
    chosen = _filter(consumer, topic, kind, reason, older_than, newer_than)
    letters, handled = _run(_read_all(_library(load_settings(Settings))))
    now = datetime.now(UTC)
    found = select(letters, chosen, handled=handled, include_handled=True, now=now)
    shown = found if everything else [letter for letter in found if str(letter.ref) not in handled]
    table = Table(show_lines=False)
    for name in ("id", "consumer", "source topic", "kind", "age"):
        table.add_column(name, no_wrap=True)  # ids and names stay whole, for copying into the next command
    table.add_column("reason", overflow="fold")
    if everything:
        table.add_column("decision", no_wrap=True)
    for letter in shown[:limit]:
        s = letter.summary(now, handled.get(str(letter.ref)))
        decided = f"{s.handled.action} by {s.handled.by}" if s.handled else "-"
        row = [s.id, s.consumer, s.source_topic, s.kind, format_age(s.age), s.reason[:120]]
        table.add_row(*row, *([decided] if everything else []))
    out.print(table)
    note = "" if everything else f"; {len(found) - len(shown)} replayed or discarded not shown (--all shows them)"
    more = f"; the oldest {limit} shown" if len(shown) > limit else ""
    out.print(f"{len(shown)} dead letter(s){more}{note}", markup=False)


@dead_letters.command()
def show(dead_letter: Annotated[str, typer.Argument(help="its id: topic:partition:offset")]) -> None:
    """One dead letter with its headers and payload (personal data: the administrators' login only)."""
    settings = load_settings(Settings)
    library = _library(settings)
    ref = _ref(dead_letter, library)
    letter = _run(library.read_one(ref))
    if letter is None:
        err.print(f"no dead letter {ref} (a wrong id, or the topic no longer keeps it)", markup=False)
        raise typer.Exit(2)
    now = datetime.now(UTC)
    s = letter.summary(now, decisions(_run(library.audit())).get(str(ref)))
    for label, value in (
        ("id", s.id),
        ("consumer", s.consumer),
        ("source topic", s.source_topic),
        ("kind", s.kind),
        ("dead-lettered", f"{s.dead_lettered_at.isoformat()} ({format_age(s.age)} ago)"),
        ("reason", s.reason),
        ("decision", f"{s.handled.action} by {s.handled.by} at {s.handled.at.isoformat()}" if s.handled else "none"),
        ("key", (letter.key or b"").decode("utf-8", errors="replace")),
    ):
        out.print(f"{label + ':':<15}{value}", markup=False)
    headers = Table("header", "value")
    for name, raw in letter.headers:
        headers.add_row(name, raw.decode("utf-8", errors="replace"))
    out.print(headers)
    out.print(_payload(letter.value), markup=False)


def _payload(value: bytes) -> str:
    try:
        return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return repr(value[:65536])


def _ref(text: str, library: DeadLetters) -> DeadLetterRef:
    try:
        return parse_ref(text, default_topic=library.topic)
    except BadInput as bad:
        raise typer.BadParameter(str(bad)) from None


def _chosen(library: DeadLetters, ids: list[str], chosen: Filter, *, everything: bool) -> list[DeadLetter]:
    """The dead letters named by id (each must exist), or those the filter takes."""
    if ids and not chosen.empty:
        raise typer.BadParameter("give ids or filters, not both")
    if not ids and chosen.empty:
        raise typer.BadParameter("say which: ids, or at least one filter (--consumer, --topic, --reason, ...)")
    if ids:
        refs = {str(_ref(text, library)) for text in ids}
        letters, _ = _run(_read_all(library))
        found = [letter for letter in letters if str(letter.ref) in refs]
        for missing in sorted(refs - {str(letter.ref) for letter in found}):
            err.print(f"no dead letter {missing}", markup=False)
        if len(found) < len(refs):
            raise typer.Exit(2)
        return sorted(found, key=lambda letter: (letter.ref.partition, letter.ref.offset))
    letters, handled = _run(_read_all(library))
    return select(letters, chosen, handled=handled, include_handled=everything, now=datetime.now(UTC))


def _act(action: str, ids: list[str] | None, chosen: Filter, *, everything: bool, by: str | None, yes: bool) -> None:
    settings = load_settings(Settings)
    try:
        who = operator(operator_name(settings, by))
    except BadInput as bad:
        raise typer.BadParameter(str(bad)) from None
    library = _library(settings)
    letters = _chosen(library, ids or [], chosen, everything=everything)
    if action == "replay":
        for letter in [letter for letter in letters if letter.replay_problem()]:
            err.print(f"{letter.ref} cannot be replayed: {letter.replay_problem()}", markup=False)
        letters = [letter for letter in letters if not letter.replay_problem()]
    if not letters:
        out.print("no dead letters to " + action)
        return
    where = ", ".join(sorted({letter.source_topic or "-" for letter in letters}))
    question = f"{action} {len(letters)} dead letter(s) (to {where})?" if action == "replay" else ""
    question = question or f"discard {len(letters)} dead letter(s)? They will not be listed or replayed again."
    if not confirm(question, yes=yes):
        raise typer.Exit(1)
    with _progress(f"{action.capitalize()}ing") as progress:
        task = progress.add_task(action, total=len(letters))
        work = library.replay if action == "replay" else library.discard
        try:
            done = _run(work(letters, by=who, advance=lambda n: progress.advance(task, n)))
        except ActionFailed as failed:
            err.print(f"{action}: {failed} (all audited); run it again for the rest", markup=False)
            raise typer.Exit(1) from None
    verb = "replayed" if action == "replay" else "discarded"
    out.print(f"{len(done)} dead letter(s) {verb} by {who}; audit action {done[0].action_id}", markup=False)


@dead_letters.command()
def replay(
    ids: Ids = None,
    consumer: Consumer = None,
    topic: Topic = None,
    kind: Kind = None,
    reason: Reason = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    everything: Everything = False,
    by: By = None,
    yes: Yes = False,
) -> None:
    """Send dead letters back to their source topics (same key and headers, plus x-hlm360-replay)."""
    chosen = _filter(consumer, topic, kind, reason, older_than, newer_than)
    _act("replay", ids, chosen, everything=everything, by=by, yes=yes)


@dead_letters.command()
def discard(
    ids: Ids = None,
    consumer: Consumer = None,
    topic: Topic = None,
    kind: Kind = None,
    reason: Reason = None,
    older_than: OlderThan = None,
    newer_than: NewerThan = None,
    everything: Everything = False,
    by: By = None,
    yes: Yes = False,
) -> None:
    """Decide that dead letters will not be replayed: hidden from lists and filtered replays."""
    chosen = _filter(consumer, topic, kind, reason, older_than, newer_than)
    _act("discard", ids, chosen, everything=everything, by=by, yes=yes)


@dead_letters.command()
def audit(limit: Annotated[int, typer.Option(min=1, help="the latest this many decisions")] = 100) -> None:
    """Every replay and discard: when, who, which dead letter, where a replay went (no payloads)."""
    entries = sorted(_run(_library(load_settings(Settings)).audit()), key=lambda entry: entry.at)[-limit:]
    table = Table("at", "action", "by", "dead letter", "consumer", "replayed to", "action id")
    for e in entries:
        table.add_row(
            e.at.isoformat(timespec="seconds"),
            e.action,
            e.by,
            str(e.dead_letter),
            e.consumer,
            str(e.replayed_to or "-"),
            str(e.action_id),
        )
    out.print(table)


@topics.command()
def ensure() -> None:
    """Create the contract's missing topics (idempotent), as the operators' principal."""
    from shared.cli import ensure_topics

    raise typer.Exit(ensure_topics())


@web.command()
def serve() -> None:
    """Serve the web console on CONSOLE_HTTP_HOST:CONSOLE_HTTP_PORT (sign in with a staff token)."""
    import uvicorn

    from console.config import ConsoleSettings

    settings = load_settings(ConsoleSettings)
    uvicorn.run("console.main:create_app", factory=True, **settings.server_options())


def _delegate(service: str) -> None:
    def command(ctx: typer.Context) -> None:
        module = importlib.import_module(f"{service}.cli")
        raise typer.Exit(module.main(ctx.args or ["--help"], prog=f"hlm360 {service}"))

    app.command(
        service,
        help=f"The {service} service's own commands (serve, migrate, rollback, ...): `hlm360 {service} --help`.",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(command)


for _service in SERVICES:
    _delegate(_service)


def main() -> None:
    app(prog_name="hlm360", args=sys.argv[1:])
