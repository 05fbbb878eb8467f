"""Names the report gives items and comment questions, from the versioned item bank in
`shared/questionnaire` (the same data the ratings service asks from)."""

from __future__ import annotations

from functools import lru_cache

from reports.domain import Behaviour, Wording
from shared.questionnaire import BANKS_DIR, ItemBankError, load_item_bank


@lru_cache(maxsize=16)
def wording_for(version: str, *, first_person: bool = False) -> Wording:
    """Statements of `version` (third person for a 360 report, first person for a self-assessment).

    An unknown or unreadable bank gives an empty Wording: the report then names items by id rather
    than failing to compile.
    """
    path = BANKS_DIR / f"{version}.json"
    if not version or "/" in version or not path.is_file():
        return Wording()
    try:
        bank = load_item_bank(path)
    except ItemBankError:
        return Wording()
    behaviours = {
        item.id: Behaviour(text=item.for_rater(self_rating=first_person), level=item.level.value)
        for _, item in bank.items
    }
    questions = {c.id: c.for_rater(self_rating=first_person) for c in bank.comments}
    for section in bank.dimensions:
        if section.comment is not None:
            questions[section.comment_id] = section.comment.for_rater(self_rating=first_person)
    return Wording(behaviours=behaviours, questions=questions)
