"""Reading a rater's form: complete answers become a Submission; every problem is tied to its field."""

import pytest

from ratings.config import DEFAULT_ITEM_BANK
from ratings.questionnaire import MAX_COMMENT_CHARS, FieldError, ItemScore, parse_form
from shared.contracts.events import CommentAnswer, ImportanceAnswer, ItemAnswer, RatingSubmitted
from shared.contracts.vocabulary import Dimension, RaterGroup
from shared.questionnaire import load_item_bank

BANK = load_item_bank(DEFAULT_ITEM_BANK)


def complete_form() -> dict[str, str]:
    form = {f"item:{item.id}": "4" for _, item in BANK.items}
    form |= {f"importance:{d.value}": "3" for d in Dimension}
    form |= {"comment:overall_strengths": "Calm in a crisis.", "comment:overall_development": "Delegate more."}
    return form


def fields(errors: tuple[FieldError, ...]) -> list[str]:
    return [e.field for e in errors]


def test_a_complete_form_becomes_a_submission() -> None:
    form = complete_form() | {"item:ISP-E": "1", "item:IFR-X": "na", "importance:leading_with_care": "5"}

    result = parse_form(BANK, form, self_rating=False)

    assert result.errors == ()
    assert result.submission is not None
    answers = result.submission.answers
    assert len(answers) == 36
    assert answers[0] == ItemScore(item_id="ISP-E", dimension=Dimension.INSPIRING_SHARED_PURPOSE, score=1)
    assert answers[-1] == ItemScore(item_id="IFR-X", dimension=Dimension.INFLUENCING_FOR_RESULTS, score=None)
    assert dict(result.submission.importance)[Dimension.LEADING_WITH_CARE] == 5
    assert len(result.submission.importance) == 9


def test_comments_are_trimmed_and_empty_optional_ones_left_out() -> None:
    form = complete_form() | {
        "comment:overall_strengths": "  Listens.\r\nActs.  ",
        "comment:holding_to_account_comment": "   ",
        "comment:engaging_the_team_comment": "Runs good huddles.",
    }

    result = parse_form(BANK, form, self_rating=False)

    assert result.submission is not None
    assert result.submission.comments == (
        ("engaging_the_team_comment", "Runs good huddles."),
        ("overall_strengths", "Listens.\nActs."),
        ("overall_development", "Delegate more."),
    )


def test_every_unanswered_question_is_reported_and_nothing_is_submitted() -> None:
    form = complete_form()
    del form["item:LWC-S"]
    del form["importance:sharing_the_vision"]

    result = parse_form(BANK, form, self_rating=False)

    assert result.submission is None
    assert fields(result.errors) == ["item:LWC-S", "importance:sharing_the_vision"]
    assert result.errors[0].anchor == "item-LWC-S-1"
    assert "Not observed" in result.errors[0].message
    assert "They make it safe for people" in result.errors[0].message
    assert result.errors[1].anchor == "importance-sharing-the-vision-1"


def test_an_empty_form_reports_every_required_question_in_page_order() -> None:
    result = parse_form(BANK, {}, self_rating=False)

    expected = []
    for section in BANK.dimensions:
        expected += [f"item:{item.id}" for item in section.items]
        expected.append(f"importance:{section.dimension.value}")
    expected += ["comment:overall_strengths", "comment:overall_development"]
    assert fields(result.errors) == expected


@pytest.mark.parametrize("value", ["0", "6", "3.5", "-1", "four", "NA", "1,2"])
def test_a_score_outside_the_scale_is_refused(value: str) -> None:
    result = parse_form(BANK, complete_form() | {"item:DC-P": value}, self_rating=False)

    assert result.submission is None
    assert fields(result.errors) == ["item:DC-P"]
    assert result.errors[0].message.startswith("Choose one of the answers given for")


@pytest.mark.parametrize("value", ["na", "0", "6", ""])
def test_importance_has_no_not_observed_and_must_be_on_the_scale(value: str) -> None:
    result = parse_form(BANK, complete_form() | {"importance:holding_to_account": value}, self_rating=False)

    assert result.submission is None
    assert fields(result.errors) == ["importance:holding_to_account"]


@pytest.mark.parametrize("question", ["overall_strengths", "overall_development"])
@pytest.mark.parametrize("text", ["", "  \r\n  "])
def test_the_overall_comments_are_required(question: str, text: str) -> None:
    result = parse_form(BANK, complete_form() | {f"comment:{question}": text}, self_rating=False)

    assert result.submission is None
    assert fields(result.errors) == [f"comment:{question}"]
    assert result.errors[0].anchor == f"comment-{question.replace('_', '-')}"


@pytest.mark.parametrize("question", ["overall_development", "connecting_our_service_comment"])
def test_a_comment_over_the_limit_is_refused_and_one_at_the_limit_accepted(question: str) -> None:
    too_long = parse_form(
        BANK, complete_form() | {f"comment:{question}": "x" * (MAX_COMMENT_CHARS + 1)}, self_rating=False
    )
    at_limit = parse_form(BANK, complete_form() | {f"comment:{question}": "x" * MAX_COMMENT_CHARS}, self_rating=False)

    assert too_long.submission is None
    assert fields(too_long.errors) == [f"comment:{question}"]
    assert "5,000 characters or fewer (it has 5,001)" in too_long.errors[0].message
    assert at_limit.submission is not None


def test_messages_for_the_self_rater_are_in_the_first_person() -> None:
    form = complete_form()
    del form["item:ISP-E"]
    del form["importance:leading_with_care"]

    result = parse_form(BANK, form, self_rating=True)

    assert "I act in line with NHS values" in result.errors[0].message
    assert result.errors[1].message == "Select how important leading with care is to your role"


def test_a_valid_submission_fits_the_rating_submitted_contract() -> None:
    form = complete_form() | {"item:EI-E": "na", "comment:overall_development": "y" * MAX_COMMENT_CHARS}
    submission = parse_form(BANK, form, self_rating=False).submission
    assert submission is not None

    event = RatingSubmitted(
        producer="ratings",
        cycle_id="6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10",  # type: ignore[arg-type]
        rater_id="0b7e7a5e-93a4-4f7a-8f6c-1c3f0f6a2d11",  # type: ignore[arg-type]
        group=RaterGroup.PEER,
        questionnaire_version=BANK.version,
        answers=[ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in submission.answers],
        importance=[ImportanceAnswer(dimension=d, score=s) for d, s in submission.importance],
        comments=[CommentAnswer(question_id=q, text=t) for q, t in submission.comments],
    )

    assert sum(a.score is None for a in event.answers) == 1
    assert len(event.comments[-1].text) == MAX_COMMENT_CHARS
