"""Issue 10: the committed bad-input corpus (tests/corpus/*.jsonl) against the running services, at
each of the four ways a 360 starts: Kafka CycleRequested, POST /api/cycles, the start form and the
cohort CSV import. Every case names its input and the outcome it must have; hostile text that is
fine (accents, emoji, SQL-ish, HTML) must be stored as typed and escaped where shown. Afterwards a
valid request still opens and invites, the services are healthy, and their logs grew by a bounded
amount.

    set -a && . .local/env && set +a && .venv/bin/python -m pytest tests/e2e/test_bad_input_corpus.py -q -s
"""

from __future__ import annotations

import asyncio
import base64
import copy
import csv
import email
import email.policy
import io
import json
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from deploy.demo.intake import AWAITING_CONFIRMATION, confirm_by_email
from deploy.demo.journey import build_request
from invitations.domain import cohort_cycle_id
from shared.contracts.events import CycleRequested
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from tests.config import REPO, StackSettings, kafka_options
from tests.e2e.conftest import Databases
from tests.support import TopicReader, eventually, header

CORPUS = REPO / "tests" / "corpus"
SERVICES = ("invitations", "ratings", "reports", "scheduling")
LOG_BYTES_PER_CASE = 4096
INTAKE_CONSUMER = "invitations.open-cycle"
MINIMUM_KINDS = 60


@dataclass(frozen=True)
class Case:
    name: str
    kind: str
    input: dict[str, Any]
    expect: dict[str, Any]


def load(file: str) -> list[Case]:
    lines = (CORPUS / file).read_text(encoding="utf-8").splitlines()
    return [Case(**json.loads(text)) for text in lines if text.strip()]


@dataclass
class CorpusRun:
    """What the module sent, for the closing checks: log sizes before, cases per intake."""

    log_sizes: dict[str, int]
    started: float = field(default_factory=time.monotonic)
    cases: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)


def log_sizes(settings: StackSettings) -> dict[str, int]:
    logs = settings.hlm360_local_dir / "logs"
    return {name: (logs / f"{name}.log").stat().st_size if (logs / f"{name}.log").exists() else 0 for name in SERVICES}


@pytest.fixture(scope="module")
def run(settings: StackSettings) -> CorpusRun:
    return CorpusRun(log_sizes=log_sizes(settings))


@pytest.fixture(scope="module")
def mailbox(settings: StackSettings) -> MailBox:
    return MailBox(settings.hlm360_mail_dir)


# --- expanding a case's input ----------------------------------------------------------------


class Expander:
    """Turns a case's input into a body. Values may be expressions: {"$repeat": [text, n]},
    {"$concat": [...]}, {"$raters": n}, {"$emails": n}, {"$people": n} (CSV "Name <email>; ..."),
    {"$copy": "path"}, {"$days": d, "naive": bool}, {"$hours": h}, {"$nest": depth} and
    {"$raw": json-text} (spliced into the JSON text unparsed). "{tag}" in text becomes this case's tag."""

    def __init__(self, base: dict[str, Any], tag: str) -> None:
        self.base = base
        self.tag = tag
        self.splices: dict[str, str] = {}

    def value(self, spec: Any) -> Any:
        if isinstance(spec, str):
            return spec.replace("{tag}", self.tag)
        if isinstance(spec, list):
            return [self.value(item) for item in spec]
        if not isinstance(spec, dict):
            return spec
        if "$repeat" in spec:
            text, count = spec["$repeat"]
            return str(text) * int(count)
        if "$concat" in spec:
            return "".join(str(self.value(part)) for part in spec["$concat"])
        if "$raters" in spec:
            return [
                {"group": "peer", "name": f"Corpus Peer {n}", "email": f"peer{n}.{self.tag}@example.nhs.uk"}
                for n in range(int(spec["$raters"]))
            ]
        if "$emails" in spec:
            return [f"manager{n}.{self.tag}@example.nhs.uk" for n in range(int(spec["$emails"]))]
        if "$people" in spec:
            people = range(int(spec["$people"]))
            return "; ".join(f"Corpus Peer {n} <peer{n}.{self.tag}@example.nhs.uk>" for n in people)
        if "$copy" in spec:
            return copy.deepcopy(get_path(self.base, spec["$copy"]))
        if "$days" in spec or "$hours" in spec:
            moment = datetime.now(UTC) + timedelta(days=float(spec.get("$days", 0)), hours=float(spec.get("$hours", 0)))
            return moment.replace(tzinfo=None).isoformat() if spec.get("naive") else moment.isoformat()
        if "$nest" in spec:
            depth = int(spec["$nest"])
            return self._splice("[" * depth + "]" * depth)
        if "$raw" in spec:
            return self._splice(str(spec["$raw"]))
        return {key: self.value(item) for key, item in spec.items()}

    def _splice(self, text: str) -> str:
        marker = f"__splice_{len(self.splices)}_{uuid4().hex}__"
        self.splices[marker] = text
        return marker

    def patched(self, spec: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(self.base)
        for path in spec.get("delete", []):
            delete_path(body, path)
        for path, value in spec.get("set", {}).items():
            set_path(body, path, self.value(value))
        return body

    def json_bytes(self, spec: dict[str, Any]) -> bytes:
        """A JSON body: a literal, or the base with the case's changes, then any byte-level damage."""
        if "base64" in spec:
            return base64.b64decode(spec["base64"])
        if "text" in spec:
            return str(spec["text"]).encode()
        if "nest" in spec:
            depth = int(spec["nest"])
            return b"[" * depth + b"]" * depth
        data = spec["json"] if "json" in spec else self.patched(spec)
        text = json.dumps(data, ensure_ascii=False)
        for marker, splice in self.splices.items():
            text = text.replace(json.dumps(marker), splice)
        if "truncate" in spec:
            text = text[: int(spec["truncate"])]
        text += str(spec.get("append", ""))
        return text.encode(str(spec.get("encoding", "utf-8")))


def _steps(path: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in path.split(".")]


def get_path(data: Any, path: str) -> Any:
    for step in _steps(path):
        data = data[step]
    return data


def set_path(data: Any, path: str, value: Any) -> None:
    *parents, last = _steps(path)
    for step in parents:
        data = data[step]
    data[last] = value


def delete_path(data: Any, path: str) -> None:
    *parents, last = _steps(path)
    for step in parents:
        data = data[step]
    del data[last]


def matches(text: str, expected: str | list[str]) -> bool:
    """Case-insensitive: `expected` (or any one of a list) is in `text`."""
    options = [expected] if isinstance(expected, str) else expected
    return any(option.lower() in text.lower() for option in options)


def corpus_request(tag: str) -> CycleRequested:
    """The valid request every Kafka and API case changes (names of its own: other e2e tests look
    for the demo's names in the logs)."""
    request = build_request(cycle_id=uuid4(), facilitator_id=None, tag=tag)
    participant = request.participant.model_copy(update={"given_name": "Ada", "family_name": "Corpuscase"})
    raters = [r.model_copy(update={"name": f"Corpus Rater {n}"}) for n, r in enumerate(request.raters, start=1)]
    return request.model_copy(update={"participant": participant, "raters": raters, "producer": "hlm360-corpus"})


def api_fields(request: CycleRequested) -> dict[str, Any]:
    return request.model_dump(
        mode="json", include={"participant", "programme", "deadline", "funding", "raters", "facilitator_id"}
    )


# --- checks shared by the intakes -----------------------------------------------------------


async def stored_problems(dbs: Databases, cycle_id: UUID, expected: dict[str, str]) -> list[str]:
    columns = ", ".join(expected)
    rows = await dbs.fetch("invitations", f"SELECT {columns} FROM invitations.cycle WHERE id = $1", cycle_id)
    if not rows:
        return [f"no cycle {cycle_id} stored"]
    return [
        f"{column} stored as {rows[0][column]!r}, sent {value!r}"
        for column, value in expected.items()
        if rows[0][column] != value
    ]


class MailBox:
    """The mail sink's files by recipient; each poll reads only the headers of files it has not seen."""

    TO = re.compile(rb"^To: *(.+?)\r?$", re.MULTILINE | re.IGNORECASE)

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._seen: set[str] = set()
        self._by_recipient: dict[str, list[Path]] = {}

    def to(self, address: str) -> list[EmailMessage]:
        for path in self.directory.glob("*.eml"):
            if path.name not in self._seen:
                self._seen.add(path.name)
                with path.open("rb") as handle:
                    found = self.TO.search(handle.read(4096))
                if found:
                    recipient = found.group(1).decode(errors="replace").strip().lower()
                    self._by_recipient.setdefault(recipient, []).append(path)
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in self._by_recipient.get(address.lower(), [])
        ]


@dataclass
class MailCheck:
    case: str
    address: str
    raw: str


async def mail_escape_problems(mailbox: MailBox, checks: list[MailCheck]) -> list[str]:
    """Each invitation to `address` names the participant: its HTML must show `raw` escaped. The
    mail outbox may be busy with the whole corpus's invitations: wait for all of them at once."""
    await eventually(
        lambda: all(mailbox.to(c.address) for c in checks),
        timeout=180,
        interval=1.0,
        what=f"invitations to {[c.address for c in checks if not mailbox.to(c.address)]}",
    )
    problems = []
    for check in checks:
        for message in mailbox.to(check.address):
            html_part = message.get_body(preferencelist=("html",))
            html = html_part.get_content() if html_part is not None else ""  # type: ignore[attr-defined]
            if check.raw in html:
                problems.append(f"{check.case}: the email to {check.address} has {check.raw!r} unescaped in its HTML")
    return problems


async def cycle_exists(settings: StackSettings, http: httpx.AsyncClient, cycle_id: UUID | str) -> bool:
    """False too while the service restarts (other work in this checkout restarts the stack's services)."""
    try:
        response = await http.get(
            f"{settings.invitations_url}/api/cycles/{cycle_id}", headers=settings.admin_headers("invitations")
        )
    except httpx.TransportError:
        return False
    return response.status_code == 200


async def post(http: httpx.AsyncClient, url: str, body: bytes, content_type: str) -> httpx.Response | str:
    """The response, or why there was none. Tried again after a broken connection (a server may
    close a kept-alive connection after an earlier case's 500 or 413: that case's failure, not this
    one's) and for up to a minute while the service is down (other work in this checkout restarts
    the stack's services)."""
    error: httpx.TransportError | None = None
    deadline = time.monotonic() + 60
    for attempt in range(1000):
        try:
            return await http.post(url, content=body, headers={"Content-Type": content_type})
        except httpx.ConnectError as refused:
            error = refused
        except httpx.TransportError as failed:
            error = failed
            if attempt >= 1:
                break
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return f"no response ({type(error).__name__}: {error})"


def report(run: CorpusRun, intake: str, cases: list[Case], failures: list[str], seconds: float) -> None:
    run.cases[intake] = len(cases)
    run.failures[intake] = failures
    kinds = sorted({c.kind for c in cases})
    print(
        f"\n[corpus] {intake}: {len(cases)} cases, {len(kinds)} kinds of input, {len(failures)} failing, {seconds:.1f}s"
    )
    for failure in failures:
        print(f"[corpus]   FAIL {failure}")


def test_every_intake_has_a_corpus_of_at_least_sixty_cases() -> None:
    for file in ("kafka.jsonl", "api.jsonl", "form.jsonl", "csv.jsonl"):
        cases = load(file)
        names = [c.name for c in cases]
        assert len(names) == len(set(names)), f"{file}: case names repeat"
        assert len(cases) >= MINIMUM_KINDS, f"{file}: {len(cases)} cases"
        assert all(c.expect for c in cases), f"{file}: a case without an expected outcome"


# --- (1) Kafka CycleRequested ------------------------------------------------------------------


async def test_kafka_corpus_is_dead_lettered_with_reasons_or_accepted(
    settings: StackSettings, dbs: Databases, run: CorpusRun, mailbox: MailBox
) -> None:
    started = time.monotonic()
    cases = load("kafka.jsonl")
    topic = topic_for(CycleRequested)
    keys: dict[str, bytes] = {}
    cycles: dict[str, UUID] = {}
    raters: dict[str, str] = {}
    producer = AIOKafkaProducer(
        **kafka_options(settings.hlm360_kafka_bootstrap_servers), acks="all", max_request_size=4 * 1024 * 1024
    )
    await producer.start()
    try:
        async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
            await dead_letters.poll()  # joined before anything is sent
            for case in cases:
                tag = uuid4().hex[:10]
                request = corpus_request(tag)
                body = Expander(request.model_dump(mode="json"), tag).json_bytes(case.input)
                keys[case.name] = f"corpus-{tag}-{case.name}".encode()
                cycles[case.name] = request.cycle_id
                raters[case.name] = str(request.raters[0].email)
                await producer.send_and_wait(topic, body, key=keys[case.name])
            failures, mail = await _kafka_outcomes(settings, dbs, cases, keys, cycles, raters, dead_letters)
    finally:
        await producer.stop()
    failures += await mail_escape_problems(mailbox, mail)
    report(run, "kafka CycleRequested", cases, failures, time.monotonic() - started)
    assert not failures, "\n".join(failures)


async def _kafka_outcomes(
    settings: StackSettings,
    dbs: Databases,
    cases: list[Case],
    keys: dict[str, bytes],
    cycles: dict[str, UUID],
    raters: dict[str, str],
    dead_letters: TopicReader,
) -> tuple[list[str], list[MailCheck]]:
    expected_dead = {keys[c.name] for c in cases if c.expect["outcome"] == "dead-letter"}
    accepted = [c for c in cases if c.expect["outcome"] == "accepted"]
    deadline = time.monotonic() + 90
    async with httpx.AsyncClient(timeout=10) as http:
        opened: set[str] = set()
        while time.monotonic() < deadline:
            seen = {r.key for r in await dead_letters.poll() if r.key in expected_dead}
            for case in accepted:
                if case.name not in opened and await cycle_exists(settings, http, cycles[case.name]):
                    opened.add(case.name)
            if seen == expected_dead and len(opened) == len(accepted):
                break
            await asyncio.sleep(0.5)
        records = {r.key: r for r in await dead_letters.poll() if r.key in set(keys.values())}
        failures, mail = [], []
        for case in cases:
            record = records.get(keys[case.name])
            if case.expect["outcome"] == "dead-letter":
                if record is None:
                    opened_anyway = await cycle_exists(settings, http, cycles[case.name])
                    failures.append(f"{case.name}: not dead-lettered" + (" (it opened)" if opened_anyway else ""))
                    continue
                reason = header(record, "x-dead-letter-reason") or ""
                if not matches(reason, case.expect["reason"]):
                    failures.append(f"{case.name}: reason {reason[:300]!r} does not name {case.expect['reason']!r}")
                if header(record, "x-dead-letter-consumer") != INTAKE_CONSUMER:
                    failures.append(f"{case.name}: dead-lettered by {header(record, 'x-dead-letter-consumer')}")
            else:
                if record is not None:
                    failures.append(
                        f"{case.name}: dead-lettered ({header(record, 'x-dead-letter-reason')!r}), expected accepted"
                    )
                elif case.name not in opened:
                    failures.append(f"{case.name}: no cycle opened")
                else:
                    failures += [
                        f"{case.name}: {p}"
                        for p in await stored_problems(dbs, cycles[case.name], case.expect.get("stored", {}))
                    ]
                    if "mail_escaped" in case.expect:
                        mail.append(MailCheck(case.name, raters[case.name], case.expect["mail_escaped"]))
    return failures, mail


# --- (2) POST /api/cycles --------------------------------------------------------------------


def names_field(body: Any, path: str) -> bool:
    """The response names `path` (dotted, e.g. participant.given_name): in a `loc` (FastAPI's own
    422) or anywhere in its text."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            location = node.get("loc")
            if isinstance(location, list):
                found.append(".".join(str(p) for p in location if p != "body"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.append(node)

    walk(body)
    return any(path in text for text in found)


async def test_api_corpus_is_refused_naming_the_field_or_accepted(
    settings: StackSettings, dbs: Databases, run: CorpusRun, mailbox: MailBox
) -> None:
    started = time.monotonic()
    cases = load("api.jsonl")
    failures: list[str] = []
    mail: list[MailCheck] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for case in cases:
            tag = uuid4().hex[:10]
            request = corpus_request(tag)
            body = Expander(api_fields(request), tag).json_bytes(case.input)
            content_type = case.input.get("content_type", "application/json")
            response = await post(http, f"{settings.invitations_url}/api/cycles", body, content_type)
            if isinstance(response, str):
                failures.append(f"{case.name}: {response}")
                continue
            failures += [f"{case.name}: {p}" for p in await _api_problems(dbs, case, response)]
            if response.status_code == 202 and "mail_escaped" in case.expect:
                await _confirm(http, settings, str(request.participant.email), response.json())
                mail.append(MailCheck(case.name, str(request.raters[0].email), case.expect["mail_escaped"]))
    failures += await mail_escape_problems(mailbox, mail)
    report(run, "POST /api/cycles", cases, failures, time.monotonic() - started)
    assert not failures, "\n".join(failures)


async def _confirm(http: httpx.AsyncClient, settings: StackSettings, participant: str, answer: dict[str, Any]) -> None:
    """A public request contacts its raters only once the participant confirms: do so by the email."""
    if answer.get("status") == AWAITING_CONFIRMATION:
        cycle_id = UUID(answer["cycle_id"])
        mail_dir = settings.hlm360_mail_dir
        await confirm_by_email(http, mail_dir=mail_dir, participant_email=participant, cycle_id=cycle_id, timeout=60)


async def _api_problems(dbs: Databases, case: Case, response: httpx.Response) -> list[str]:
    expect = case.expect
    if response.status_code not in expect["status"]:
        return [f"status {response.status_code} (expected {expect['status']}): {response.text[:300]!r}"]
    try:
        body = response.json()
    except ValueError:
        body = response.text
    problems = []
    if "field" in expect and not names_field(body, expect["field"]):
        problems.append(f"the {response.status_code} does not name {expect['field']}: {str(body)[:300]!r}")
    if "detail" in expect and not matches(json.dumps(body, ensure_ascii=False), expect["detail"]):
        problems.append(f"the {response.status_code} does not say {expect['detail']!r}: {str(body)[:300]!r}")
    if response.status_code == 202:
        cycle_id = UUID(body["cycle_id"])
        problems += await stored_problems(dbs, cycle_id, expect.get("stored", {}))
    return problems


# --- (3) the start form POST /start ----------------------------------------------------------


def start_form(tag: str) -> dict[str, str]:
    closes = date.today() + timedelta(days=21)
    form = {
        "cycle_id": str(uuid4()),
        "given_name": "Ada",
        "family_name": "Corpuscase",
        "email": f"ada.{tag}@example.nhs.uk",
        "organisation": "Corpus NHS Trust",
        "region": "London",
        "deadline_day": str(closes.day),
        "deadline_month": str(closes.month),
        "deadline_year": str(closes.year),
        "has_reports": "yes",
        "preferred_language": "en",
        "lm_name": "Corpus Manager",
        "lm_email": f"manager.{tag}@example.nhs.uk",
        "funding_method": "self_funded",
        "funding_reference": f"PAY-{tag}",
    }
    for number in (1, 2, 3):
        form[f"peer_{number}_name"] = f"Corpus Peer {number}"
        form[f"peer_{number}_email"] = f"peer{number}.{tag}@example.nhs.uk"
        form[f"report_{number}_name"] = f"Corpus Report {number}"
        form[f"report_{number}_email"] = f"report{number}.{tag}@example.nhs.uk"
    return form


def form_body(case: Case, tag: str) -> tuple[bytes, str]:
    spec = case.input
    content_type = spec.get("content_type", "application/x-www-form-urlencoded")
    if "text" in spec:
        return str(spec["text"]).encode(), content_type
    base = start_form(tag)
    values = Expander(base, tag).patched(spec)
    raw: dict[str, bytes] = {k: str(v).encode() for k, v in spec.get("raw_set", {}).items()}
    raw |= {k: base64.b64decode(v) for k, v in spec.get("raw_set_base64", {}).items()}
    encoded = urlencode({k: v for k, v in values.items() if k not in raw}).encode()
    parts = [encoded, *(k.encode() + b"=" + v for k, v in raw.items())]
    parts += [f"junk{n}=x".encode() for n in range(int(spec.get("junk_fields", 0)))]
    return b"&".join(p for p in parts if p), content_type


def form_problems(case: Case, response: httpx.Response) -> list[str]:
    expect = case.expect
    if response.status_code not in expect["status"]:
        return [f"status {response.status_code} (expected {expect['status']}): {response.text[:200]!r}"]
    problems = []
    page = response.text
    if "field" in expect:
        if "nhsuk-error-summary" not in page:
            problems.append("no NHS.UK error summary on the re-displayed page")
        elif not re.search(rf'nhsuk-error-summary__list.*?href="#{re.escape(expect["field"])}"', page, re.DOTALL):
            named = re.findall(r'<li><a href="#([^"]+)"', page)
            problems.append(f"the error summary names {named}, not {expect['field']}")
    problems += [f"the page shows {text!r} unescaped" for text in expect.get("absent", []) if text in page]
    problems += [f"the page does not show {text!r}" for text in expect.get("present", []) if text not in page]
    return problems


async def test_form_corpus_is_redisplayed_with_an_error_summary_or_accepted(
    settings: StackSettings, dbs: Databases, run: CorpusRun, mailbox: MailBox
) -> None:
    started = time.monotonic()
    cases = load("form.jsonl")
    failures: list[str] = []
    mail: list[MailCheck] = []
    async with httpx.AsyncClient(timeout=60) as http:
        for case in cases:
            tag = uuid4().hex[:10]
            body, content_type = form_body(case, tag)
            response = await post(http, f"{settings.invitations_url}/start", body, content_type)
            if isinstance(response, str):
                failures.append(f"{case.name}: {response}")
                continue
            problems = form_problems(case, response)
            if not problems and response.status_code == 303:
                cycle_id = UUID(response.headers["location"].rsplit("/", 1)[1])
                problems += await stored_problems(dbs, cycle_id, case.expect.get("stored", {}))
                if "mail_escaped" in case.expect:
                    answer = {"cycle_id": str(cycle_id), "status": AWAITING_CONFIRMATION}
                    await _confirm(http, settings, f"ada.{tag}@example.nhs.uk", answer)
                    mail.append(MailCheck(case.name, f"manager.{tag}@example.nhs.uk", case.expect["mail_escaped"]))
            failures += [f"{case.name}: {p}" for p in problems]
    failures += await mail_escape_problems(mailbox, mail)
    report(run, "POST /start form", cases, failures, time.monotonic() - started)
    assert not failures, "\n".join(failures)


# --- (4) the cohort CSV import ---------------------------------------------------------------

CSV_COLUMNS = [
    "participant_id",
    "given_name",
    "family_name",
    "email",
    "organisation",
    "region",
    "line_manager_name",
    "line_manager_email",
    "peers",
    "direct_reports",
    "others",
    "deadline",
    "funding_method",
    "funding_reference",
    "facilitator_id",
    "preferred_language",
    "management_line",
    "notes",
]
LINE = re.compile(r"^line (\d+): (.*)$", re.MULTILINE)


def csv_row(tag: str, participant_id: str) -> dict[str, str]:
    return {
        "participant_id": participant_id,
        "given_name": "Ada",
        "family_name": "Corpuscase",
        "email": f"ada.{tag}@example.nhs.uk",
        "organisation": "Corpus NHS Trust",
        "region": "London",
        "line_manager_name": "Corpus Manager",
        "line_manager_email": f"manager.{tag}@example.nhs.uk",
        "peers": "; ".join(f"Corpus Peer {n} <peer{n}.{tag}@example.nhs.uk>" for n in (1, 2, 3)),
        "direct_reports": "",
        "others": "",
    }


def csv_text(rows: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
    """The file and each row's physical lines (first, last) as the importer counts them."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    spans = []
    for row in rows:
        before = len(io.StringIO(out.getvalue(), newline="").readlines())
        writer.writerow(row)
        spans.append((before + 1, len(io.StringIO(out.getvalue(), newline="").readlines())))
    return out.getvalue(), spans


async def import_cohort(path: Path, programme: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "HLM360_TOPIC_NAMESPACE"} | {"COLUMNS": "1000"}
    process = await asyncio.create_subprocess_exec(
        str(REPO / ".venv" / "bin" / "python"),
        "-m",
        "invitations",
        "import-cohort",
        str(path),
        "--programme",
        programme,
        "--deadline",
        (date.today() + timedelta(days=21)).isoformat(),
        "--funding-method",
        "purchase_order",
        "--funding-reference",
        "PO-CORPUS-1",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    return int(process.returncode or 0), (out + err).decode("utf-8", errors="replace")


def file_bytes(spec: dict[str, Any], tag: str) -> bytes:
    if "base64" in spec:
        return base64.b64decode(spec["base64"])
    if "text" in spec:
        return str(spec["text"]).encode()
    expander = Expander(csv_row(tag, f"CORPUS-FILE-{tag}"), tag)
    text, _ = csv_text([expander.patched({"set": spec.get("row", {})})])
    return ("\ufeff" if spec.get("bom") else "").encode() + text.encode(spec.get("encoding", "utf-8"))


async def test_csv_corpus_reports_line_numbers_and_reasons_or_imports(
    settings: StackSettings, dbs: Databases, run: CorpusRun, mailbox: MailBox, tmp_path: Path
) -> None:
    started = time.monotonic()
    cases = load("csv.jsonl")
    run_tag = uuid4().hex[:8]
    programme = f"Corpus {run_tag}"
    row_cases = [c for c in cases if "row" in c.input]
    file_cases = [c for c in cases if "file" in c.input]
    rows, tags = [], {}
    for number, case in enumerate(row_cases):
        tags[case.name] = f"{run_tag}{number}"
        base = csv_row(tags[case.name], f"CORPUS-{run_tag}-{number}")
        rows.append(Expander(base, tags[case.name]).patched({"set": case.input["row"]}))
    text, spans = csv_text(rows)
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(text, encoding="utf-8", newline="")
    runs = [import_cohort(cohort, programme)]
    for case in file_cases:
        path = tmp_path / f"{case.name}.csv"
        path.write_bytes(file_bytes(case.input["file"], f"{run_tag}f{len(runs)}"))
        runs.append(import_cohort(path, f"{programme} {case.name}"))
    (code, output), *file_results = await asyncio.gather(*runs)

    failures: list[str] = []
    mail: list[MailCheck] = []
    if "Traceback" in output:
        failures.append(f"the cohort import crashed: {output[-1500:]}")
    reported: dict[int, list[str]] = {}
    for number, reason in LINE.findall(output):
        reported.setdefault(int(number), []).append(reason)
    async with httpx.AsyncClient(timeout=10) as http:
        for case, (first, last), row in zip(row_cases, spans, rows, strict=True):
            reasons = [r for n in range(first, last + 1) for r in reported.get(n, [])]
            cycle_id = cohort_cycle_id(programme=programme, participant_id=row["participant_id"])
            if case.expect["outcome"] == "bad-row":
                if not reasons:
                    failures.append(
                        f"{case.name}: no report for line {first}"
                        + (" (it was imported)" if await cycle_exists(settings, http, cycle_id) else "")
                    )
                elif not any(matches(r, case.expect["reason"]) for r in reasons):
                    failures.append(f"{case.name}: line {first} says {reasons!r}, not {case.expect['reason']!r}")
            elif reasons:
                failures.append(f"{case.name}: refused at line {first}: {reasons!r}")
            elif not await cycle_exists(settings, http, cycle_id):
                failures.append(f"{case.name}: not imported")
            else:
                failures += [
                    f"{case.name}: {p}" for p in await stored_problems(dbs, cycle_id, case.expect.get("stored", {}))
                ]
                if "mail_escaped" in case.expect:
                    mail.append(MailCheck(case.name, row["line_manager_email"], case.expect["mail_escaped"]))
    failures += await mail_escape_problems(mailbox, mail)
    bad = sum(1 for c in row_cases if c.expect["outcome"] == "bad-row")
    if code != 1:
        failures.append(f"the cohort import with {bad} bad rows exited {code}, expected 1")
    if f"bad rows {bad}" not in output:
        failures.append(f"the cohort import's summary does not say 'bad rows {bad}': {output[-300:]!r}")
    for case, (file_code, file_output) in zip(file_cases, file_results, strict=True):
        failures += [f"{case.name}: {p}" for p in file_problems(case, file_code, file_output)]
    report(run, "cohort CSV import", cases, failures, time.monotonic() - started)
    assert not failures, "\n".join(failures)


def file_problems(case: Case, code: int, output: str) -> list[str]:
    expect = case.expect
    problems = []
    if "Traceback" in output:
        problems.append(f"crashed: {output.strip().splitlines()[-1][:300]!r}")
    wanted = {"file-error": 2, "file-bad-rows": 1, "file-ok": 0}[expect["outcome"]]
    if code != wanted:
        problems.append(f"exit code {code}, expected {wanted}")
    if not matches(output, expect["message"]):
        problems.append(f"output does not say {expect['message']!r}: {output.strip()[-300:]!r}")
    return problems


# --- afterwards -------------------------------------------------------------------------------


async def test_a_valid_request_after_the_corpus_opens_and_invites(
    settings: StackSettings, run: CorpusRun, mailbox: MailBox
) -> None:
    started = time.monotonic()
    tag = uuid4().hex[:10]
    request = corpus_request(tag)
    producer = AIOKafkaProducer(**kafka_options(settings.hlm360_kafka_bootstrap_servers), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic_for(request), request.model_dump_json().encode(), key=request.kafka_key())
    finally:
        await producer.stop()
    async with httpx.AsyncClient(timeout=10) as http:
        await eventually(
            lambda: cycle_exists(settings, http, request.cycle_id),
            timeout=60,
            what="the valid request after the corpus",
        )
        for service in SERVICES:
            url = getattr(settings, f"{service}_url")
            assert (await http.get(f"{url}/healthz")).status_code == 200, f"{service} is not healthy after the corpus"
    recipients = {str(r.email).lower() for r in request.raters} | {str(request.participant.email).lower()}

    def invited() -> set[str] | None:
        found = {a for a in recipients if mailbox.to(a)}
        return found if found == recipients else None

    await eventually(invited, timeout=180, interval=1.0, what="invitation emails to every rater of the valid request")
    run.cases["valid journey"] = 1
    print(
        f"\n[corpus] valid request after the corpus: opened and {len(recipients)} invited in "
        f"{time.monotonic() - started:.1f}s"
    )


def test_service_logs_grew_by_a_bounded_amount(settings: StackSettings, run: CorpusRun) -> None:
    after = log_sizes(settings)
    growth = {name: after[name] - run.log_sizes[name] for name in SERVICES}
    cases = sum(run.cases.values())
    bound = LOG_BYTES_PER_CASE * max(cases, 1)
    total = sum(growth.values())
    print(
        f"\n[corpus] cases sent: {dict(run.cases)} = {cases}; log growth {growth} = {total} bytes "
        f"({total / max(cases, 1):.0f} per case; bound {bound}); "
        f"whole corpus run {time.monotonic() - run.started:.0f}s"
    )
    assert cases >= 4 * MINIMUM_KINDS, f"only {cases} cases ran: run the whole module"
    assert total < bound, f"the logs grew by {total} bytes for {cases} cases"
