"""Pure rules for starting a 360: nominations, the participant's management line and session
language, funding, facilitator choice, deadlines, reminders and rater fatigue (personal links: invitations.links).
No I/O; messages are written for the participant and never contain names or email
addresses (they may end up in dead-letter headers and logs)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from shared.contracts.text import SHORT_TEXT_MAX, single_line_problem
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.errors import Rejected

GROUP_NAMES = {
    RaterGroup.SELF: "self",
    RaterGroup.LINE_MANAGER: "line manager",
    RaterGroup.PEER: "peer",
    RaterGroup.DIRECT_REPORT: "direct report",
    RaterGroup.OTHER: "other colleague",
}
GROUP_TITLES = {
    RaterGroup.SELF: "You",
    RaterGroup.LINE_MANAGER: "Line manager",
    RaterGroup.PEER: "Peers",
    RaterGroup.DIRECT_REPORT: "Direct reports",
    RaterGroup.OTHER: "Others",
}
LONDON = ZoneInfo("Europe/London")
CLOSES_AT = time(17, 0)  # a deadline given as a day closes at 5pm UK time
PENDING = "invited"
# A 360 asked for on the public page or API waits here until the participant confirms by email.
AWAITING_CONFIRMATION = "awaiting_confirmation"
NEEDS_REPLACEMENT = ("declined", "bounced")
# NHS work addresses: NHSmail (nhs.net) and NHS organisations' own domains (nhs.uk and below it).
# "*.x" allows any subdomain of x; config.py may replace these and add organisation domains.
NHS_EMAIL_DOMAINS = ("nhs.net", "nhs.uk", "*.nhs.uk")
COHORT_NAMESPACE = UUID("1f0b8e0c-5d0a-4c57-9a63-7c6f4f3b8d21")
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#:-]{0,99}$")


@dataclass(frozen=True)
class Nominee:
    group: RaterGroup
    name: str
    email: str


@dataclass(frozen=True)
class NominationLimits:
    min_peers: int = 3
    min_direct_reports: int = 3
    recommended: int = 10
    maximum: int = 50
    email_domains: tuple[str, ...] = NHS_EMAIL_DOMAINS  # where raters' addresses may be


@dataclass(frozen=True)
class Problem:
    """One reason a nomination list is refused; `index` points at the nominee, if one is to blame."""

    message: str
    index: int | None = None
    part: str = "email"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def email_is_valid(email: str) -> bool:
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


class NominationsRefused(Rejected):
    """A nomination list refused, with every problem (the message joins them)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = list(problems)


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches, for telling people apart: case never matters, and
    `name+tag@domain` is delivered to `name@domain` (sub-addressing), so the tag is dropped.
    Dots are kept: NHSmail and organisations' mail servers treat `jo.smith` and `josmith` as two
    people; dot folding (as Gmail does) only matters on consumer domains, which the domain
    allow-list refuses anyway. NFKC first, so full-width letters are the letters they look like."""
    local, _, domain = unicodedata.normalize("NFKC", email.strip()).rpartition("@")
    return f"{local.partition('+')[0].casefold()}@{domain.casefold().rstrip('.')}"


def domain_allowed(email: str, allowed: Iterable[str]) -> bool:
    """Whether the address is at one of the allowed domains ("x": x itself; "*.x": any subdomain of x)."""
    domain = mailbox_key(email).rpartition("@")[2]
    for pattern in allowed:
        wanted = pattern.strip().casefold().lstrip("@").rstrip(".")
        if wanted.startswith("*.") and domain.endswith(wanted[1:]) and len(domain) > len(wanted) - 1:
            return True
        if wanted and domain == wanted:
            return True
    return False


def domains_text(allowed: Iterable[str]) -> str:
    """The allowed domains as a person reads them: "@nhs.net, @nhs.uk or .nhs.uk"."""
    endings = [p[1:] if p.startswith("*.") else "@" + p.lstrip("@") for p in (d.strip().casefold() for d in allowed)]
    endings = list(dict.fromkeys(e for e in endings if e.strip("@.")))
    return endings[0] if len(endings) == 1 else ", ".join(endings[:-1]) + " or " + endings[-1]


def is_participant(email: str, participant_email: str) -> bool:
    """Whether a rater's address is (very likely) the participant's own: the same mailbox, or the
    same name before the @ at another domain (NHSmail and the trust's own address of one person)."""
    own, key = mailbox_key(participant_email), mailbox_key(email)
    own_local = own.rpartition("@")[0]
    return key == own or (bool(own_local) and key.rpartition("@")[0] == own_local)


def rater_address_problem(email: str, *, participant_email: str, allowed: Iterable[str]) -> str | None:
    """Why a valid address cannot be a rater's (None: it can); the message never repeats it."""
    if participant_email and is_participant(email, participant_email):
        return (
            "is the participant (the participant's own email address, in any case or with a +tag, or the same "
            "name before the @ at another domain): you rate yourself as 'self' automatically, so do not "
            "nominate yourself"
        )
    if not domain_allowed(email, allowed):
        return f"use their work email address: it must end {domains_text(allowed)}"
    return None


def nomination_problems(
    *,
    participant_email: str,
    nominees: Sequence[Nominee],
    limits: NominationLimits,
    has_direct_reports: bool | None = None,
) -> list[Problem]:
    """Every reason the list cannot be used (empty when it can). `has_direct_reports` None means
    'not asked': then any direct reports nominated must reach the minimum. Raters are told apart
    by mailbox_key, and none may be the participant (the 'self' rater is added automatically)."""
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    for index, nominee in enumerate(nominees):
        label = f"rater {index + 1}"
        if not nominee.name.strip():
            problems.append(Problem(f"{label}: enter their name", index, "name"))
        elif problem := single_line_problem(nominee.name.strip(), max_length=SHORT_TEXT_MAX):
            problems.append(Problem(f"{label}: their name {problem}", index, "name"))
        if nominee.group is RaterGroup.SELF:
            problems.append(Problem(f"{label}: 'self' is added automatically and cannot be nominated", index, "group"))
        if not email_is_valid(nominee.email):
            problems.append(Problem(f"{label}: enter a valid email address, like name@example.nhs.uk", index))
            continue
        if why := rater_address_problem(
            nominee.email, participant_email=participant_email, allowed=limits.email_domains
        ):
            problems.append(Problem(f"{label} {why}" if why.startswith("is ") else f"{label}: {why}", index))
            continue
        key = mailbox_key(nominee.email)
        if key in first_seen:
            problems.append(_duplicate(nominees, index, first_seen[key]))
            continue
        first_seen[key] = index
    return problems + _count_problems(nominees, limits=limits, has_direct_reports=has_direct_reports)


def _duplicate(nominees: Sequence[Nominee], index: int, other: int) -> Problem:
    """The nominee at `index` has the mailbox of the one at `other` (named by position only)."""
    label, nominee, before = f"rater {index + 1}", nominees[index], nominees[other]
    if before.group is nominee.group:
        return Problem(
            f"{label} is nominated more than once (same email address as rater {other + 1}, "
            "ignoring case and any +tag)",
            index,
        )
    return Problem(
        f"{label} ({GROUP_NAMES[nominee.group]}) is the same person as rater {other + 1} "
        f"({GROUP_NAMES[before.group]}): a person can only be in one group",
        index,
    )


def _count_problems(
    nominees: Sequence[Nominee], *, limits: NominationLimits, has_direct_reports: bool | None
) -> list[Problem]:
    """What is wrong with the size of each group and of the whole list."""
    problems: list[Problem] = []
    counts = count_groups(n.group for n in nominees)
    managers = counts.get(RaterGroup.LINE_MANAGER, 0)
    if managers != 1:
        problems.append(Problem(f"exactly one line manager is needed (got {managers})"))
    peers = counts.get(RaterGroup.PEER, 0)
    if peers < limits.min_peers:
        problems.append(Problem(f"at least {limits.min_peers} peers are needed (got {peers})"))
    reports = counts.get(RaterGroup.DIRECT_REPORT, 0)
    if has_direct_reports is False and reports:
        problems.append(Problem(f"you said nobody reports to you, but {reports} direct report(s) are nominated"))
    elif (has_direct_reports or reports) and reports < limits.min_direct_reports:
        problems.append(
            Problem(
                f"at least {limits.min_direct_reports} direct reports are needed "
                f"when people report to you (got {reports})"
            )
        )
    if len(nominees) > limits.maximum:
        problems.append(Problem(f"at most {limits.maximum} raters can be nominated (got {len(nominees)})"))
    return problems


def check_nominations(
    *,
    participant_email: str,
    nominees: Sequence[Nominee],
    limits: NominationLimits | None = None,
    has_direct_reports: bool | None = None,
) -> None:
    """Refuse a nomination list that would break the 360, with every reason at once."""
    problems = nomination_problems(
        participant_email=participant_email,
        nominees=nominees,
        limits=limits or NominationLimits(),
        has_direct_reports=has_direct_reports,
    )
    if problems:
        raise NominationsRefused(problems)


def count_groups(groups: Iterable[RaterGroup | str]) -> dict[RaterGroup, int]:
    counts: dict[RaterGroup, int] = {}
    for group in groups:
        key = RaterGroup(group)
        counts[key] = counts.get(key, 0) + 1
    return counts


# --- the participant's management line and session language ----------------------------------

MAX_MANAGEMENT_LINE = 10
# ISO 639 codes ('bsl' for British Sign Language), the ones the scheduling service names; the start
# page offers these, the Kafka intake and the cohort import accept any code the contract allows.
SESSION_LANGUAGES: dict[str, str] = {
    "en": "English",
    "cy": "Welsh",
    "bsl": "British Sign Language",
    "ar": "Arabic",
    "bn": "Bengali",
    "kw": "Cornish",
    "fr": "French",
    "gu": "Gujarati",
    "hi": "Hindi",
    "it": "Italian",
    "ml": "Malayalam",
    "pl": "Polish",
    "pt": "Portuguese",
    "pa": "Punjabi",
    "ro": "Romanian",
    "gd": "Scottish Gaelic",
    "so": "Somali",
    "es": "Spanish",
    "tl": "Tagalog",
    "ta": "Tamil",
    "ur": "Urdu",
    "yo": "Yoruba",
}
DEFAULT_LANGUAGE = "en"
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


def language_code(text: str) -> str | None:
    """A language as the contract carries it ('CY ' -> 'cy'); None when it is not an ISO 639 code."""
    code = text.strip().lower()
    return code if _LANGUAGE_CODE.match(code) else None


# CycleOpened.management_line and ManagementLineChanged.management_line hold at most this many.
MAX_LINE_ANNOUNCED = 20


def management_line(
    *, participant_email: str, requested: Iterable[str], nominated: Iterable[tuple[str, str]] = ()
) -> list[str]:
    """The participant's management line for conflict-of-interest checks (what CycleOpened and
    ManagementLineChanged carry): the requested line, then the email of every rater ever nominated
    as line manager, given as (group, email) pairs in nomination order. One since replaced is still
    in the line. Casefolded, each address once, in order, never the participant."""
    own = participant_email.strip().casefold()
    line_managers = [email for group, email in nominated if group == RaterGroup.LINE_MANAGER]
    line: list[str] = []
    for address in (*requested, *line_managers):
        key = address.strip().casefold()
        if key and key != own and key not in line:
            line.append(key)
    return line


def management_line_problems(*, participant_email: str, emails: Sequence[str]) -> list[str]:
    """What is wrong with a management line typed by a person (never echoing the addresses)."""
    own = participant_email.strip().casefold()
    problems = []
    for position, address in enumerate(emails, start=1):
        if not email_is_valid(address):
            problems.append(f"entry {position} is not a valid email address")
        elif address.strip().casefold() == own:
            problems.append(f"entry {position} is the participant's own email address")
    if len(emails) > MAX_MANAGEMENT_LINE:
        problems.append(f"has {len(emails)} email addresses; at most {MAX_MANAGEMENT_LINE} can be given")
    return problems


# --- funding ----------------------------------------------------------------------------------

PENNY = Decimal("0.01")


@dataclass(frozen=True)
class Price:
    net: Decimal
    vat: Decimal
    total: Decimal


def quote(*, net: Decimal, vat_rate: Decimal) -> Price:
    """Exact price of one 360: VAT rounded half-up to the penny, total = net + VAT."""
    net = net.quantize(PENNY, rounding=ROUND_HALF_UP)
    vat = (net * vat_rate).quantize(PENNY, rounding=ROUND_HALF_UP)
    return Price(net=net, vat=vat, total=net + vat)


def price_with_vat(*, net: Decimal, vat_rate: Decimal) -> Decimal:
    return quote(net=net, vat_rate=vat_rate).total


FUNDING_REFERENCE_NAMES = {
    FundingMethod.SELF_FUNDED: "payment reference",
    FundingMethod.PURCHASE_ORDER: "purchase order number",
    FundingMethod.PROGRAMME_CREDIT: "programme credit account",
}


class CreditRefused(Rejected):
    """A programme credit reference that cannot pay (unknown account, or no credits left). The
    message says which, for operators (cohort import, Kafka dead letters); the public routes show
    PUBLIC_CREDIT_REFUSAL instead, so nobody can probe which references exist."""


# Crockford's base32 (no I, L, O, U): read aloud and typed without confusion.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_credit_code(prefix: str) -> str:
    """An unguessable programme credit reference: the prefix, then 100 random bits in five groups
    of four (e.g. MSP-7K2Q-...): a participant types it, so it must not be derivable from names."""
    head = re.sub(r"[^A-Za-z0-9]+", "-", prefix.strip()).strip("-").upper()[:20] or "CREDIT"
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(20))
    return "-".join([head, *(body[i : i + 4] for i in range(0, 20, 4))])


PUBLIC_CREDIT_REFUSAL = "this programme credit reference cannot be used; check it with your programme team"


def funding_problem(*, method: FundingMethod, reference: str) -> str | None:
    name = FUNDING_REFERENCE_NAMES[method]
    if not reference.strip():
        return f"funding by {method.value} needs a {name}"
    if not _REFERENCE.match(reference.strip()):
        return (
            f"the {name} must start with a letter or digit and use only letters, digits, spaces "
            "and . _ / # : - (at most 100 characters)"
        )
    return None


def check_funding(*, method: FundingMethod, reference: str) -> None:
    if (problem := funding_problem(method=method, reference=reference)) is not None:
        raise Rejected(problem)


# --- facilitators -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FacilitatorState:
    registered: bool
    accredited: bool
    status: str | None
    free_slots: int | None


def not_choosable_because(state: FacilitatorState) -> str | None:
    """Why a known facilitator cannot be chosen (None: choosable). Unknown status means active."""
    if not state.registered:
        return "is not on a regional register"
    if not state.accredited:
        return "is not accredited"
    if state.status not in (None, "active"):
        return f"is {state.status}"
    # free sessions come and go (the session is booked weeks later): shown, never a reason to refuse
    return None


# --- deadlines --------------------------------------------------------------------------------


def deadline_problem(*, deadline: datetime, now: datetime, min_hours: int, max_days: int) -> str | None:
    if deadline < now + timedelta(hours=min_hours):
        return f"the deadline must be at least {min_hours} hours from now"
    if deadline > now + timedelta(days=max_days):
        return f"the deadline must be within {max_days} days"
    return None


def extension_problem(
    *, current: datetime, requested: datetime, original: datetime, now: datetime, max_extension_days: int
) -> str | None:
    if requested <= current or requested <= now:
        return "the new deadline must be later than the current one"
    if requested > original + timedelta(days=max_extension_days):
        return f"the deadline can be moved at most {max_extension_days} days past the original deadline"
    return None


# --- reminders --------------------------------------------------------------------------------


def due_reminder_stages(
    *,
    deadline: datetime,
    invited_at: datetime,
    now: datetime,
    stages_days: Iterable[int],
    min_gap: timedelta,
) -> list[int]:
    """The reminder stages (days before the deadline) whose time has come for one pending rater."""
    if now >= deadline or now - invited_at < min_gap:
        return []
    return sorted(s for s in set(stages_days) if now >= deadline - timedelta(days=s))


def fatigued(*, open_requests_elsewhere: int, threshold: int) -> bool:
    """A person asked for more than `threshold` other open 360s is likely to say no, or rush."""
    return open_requests_elsewhere > threshold


def many_asked(open_requests_elsewhere: Iterable[int], *, threshold: int, min_people: int) -> bool:
    """Whether to tell the participant that some of their raters are asked a lot: when at least
    `min_people` (never fewer than 2) of them are fatigued. The participant is told neither who nor
    how many, so the hint says nothing about any one named colleague."""
    busy = sum(fatigued(open_requests_elsewhere=n, threshold=threshold) for n in open_requests_elsewhere)
    return busy >= max(min_people, 2)


def confirmation_expired(requested_at: datetime, *, now: datetime, hours: float) -> bool:
    """A request not confirmed within `hours` can no longer be (the participant starts again)."""
    return now >= requested_at + timedelta(hours=hours)


def verified_participant_id(email: str) -> str:
    """The participant id of a 360 asked for on the public page or API: derived from the mailbox the
    participant confirmed (and where their report goes), never from a typed staff number, so earlier
    360s are linked (reports: same participant id) only to the same verified person."""
    return f"email-{uuid5(COHORT_NAMESPACE, 'mailbox|' + mailbox_key(email)).hex}"


def cohort_cycle_id(*, programme: str, participant_id: str) -> UUID:
    """Deterministic cycle id for a cohort row, so importing the same file twice adds nothing."""
    return uuid5(COHORT_NAMESPACE, f"{programme.strip().lower()}|{participant_id.strip().lower()}")


def when(moment: datetime) -> str:
    """A moment as people in the UK read it, e.g. "Friday 26 March 2027 at 5:00pm (UK time)"."""
    local = moment.astimezone(LONDON)
    return local.strftime("%A %-d %B %Y at %-I:%M%p").replace("AM", "am").replace("PM", "pm") + " (UK time)"


def closing_time(day: date) -> datetime:
    """The moment a deadline given as a day closes (5pm UK time), in UTC."""
    return datetime.combine(day, CLOSES_AT, tzinfo=LONDON).astimezone(UTC)
