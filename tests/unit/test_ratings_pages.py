"""The rater's pages: accessible structure, one dimension per page, answers kept, errors linked to fields."""

import re

from ratings.config import DEFAULT_ITEM_BANK
from ratings.pages import (
    ALREADY_SUBMITTED,
    UNKNOWN_LINK,
    Journey,
    check_page,
    comments_page,
    decline_page,
    message_page,
    section_page,
    start_page,
)
from ratings.questionnaire import (
    COMMENTS_PAGE,
    first_incomplete_page,
    merge_page,
    next_page,
    page_errors,
    parse_page,
    previous_page,
)
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import load_item_bank

BANK = load_item_bank(DEFAULT_ITEM_BANK)
PEER = Journey(base="/r/tok", group=RaterGroup.PEER, participant_name="Amara Okafor")
SELF = Journey(base="/r/tok", group=RaterGroup.SELF, participant_name="Amara Okafor")


def ids(html: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', html)


def complete_section(number: int) -> dict[str, str]:
    section = BANK.dimensions[number - 1]
    return {f"item:{item.id}": "4" for item in section.items} | {f"importance:{section.dimension.value}": "3"}


def test_the_start_page_says_who_is_rated_in_which_role_how_long_it_takes_and_the_promise() -> None:
    html = start_page(BANK, PEER, resume_page=1, has_answers=False)

    assert "<h1>Give feedback on Amara Okafor</h1>" in html
    assert "as a peer" in html
    assert "20 to 30 minutes" in html
    assert "never shown on their own or with your name" in html
    assert 'href="/r/tok/1"' in html and "Start now" in html
    assert 'href="/r/tok/decline"' in html


def test_a_returning_rater_is_offered_to_continue_where_they_left_off() -> None:
    answers = complete_section(1) | complete_section(2)

    resume = first_incomplete_page(BANK, answers, self_rating=False)
    html = start_page(BANK, PEER, resume_page=resume, has_answers=True)

    assert resume == 3
    assert 'href="/r/tok/3"' in html and "Continue where you left off" in html


def test_the_self_rater_cannot_decline_and_is_spoken_to_in_the_first_person() -> None:
    html = start_page(BANK, SELF, resume_page=1, has_answers=False)
    page = section_page(BANK, SELF, page=2, values={}, errors=(), returning=False)

    assert "Rate yourself" in html and "/decline" not in html
    assert "How important is leading with care to your role?" in page
    assert "They " not in page


def test_each_dimension_page_has_its_statements_as_fieldsets_with_legends_and_shows_progress() -> None:
    html = section_page(BANK, PEER, page=3, values={}, errors=(), returning=False)

    assert "Section 3 of 9" in html
    assert "Evaluating information" in html
    assert html.count("<fieldset") == html.count("<legend") == 4 + 1
    inputs = re.findall(r"<(?:input|textarea)\b[^>]*\bid=\"([^\"]+)\"", html)
    labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert len(inputs) == 4 * 6 + 5 + 1
    assert set(inputs) <= labels
    assert len(ids(html)) == len(set(ids(html)))
    assert 'href="/r/tok/2"' in html  # back link to the previous page


def test_a_page_with_problems_keeps_the_answers_and_links_each_error_to_its_field() -> None:
    values = {"item:ISP-E": "3", "item:ISP-P": "na", "comment:inspiring_shared_purpose_comment": "<b>x</b> & y"}
    errors = page_errors(BANK, 1, values, self_rating=False)

    html = section_page(BANK, PEER, page=1, values=values, errors=errors, returning=False)

    assert html.index("There is a problem") < html.index("<h1>")
    assert "<title>Error: " in html
    assert re.search(r'id="item-ISP-E-3" name="item:ISP-E" type="radio" value="3" checked', html)
    assert re.search(r'name="item:ISP-P" type="radio" value="na" checked', html)
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y</textarea>" in html
    anchors = re.findall(r'<li><a href="#([^"]+)"', html)
    assert (
        anchors
        == [e.anchor for e in errors]
        == ["item-ISP-S-1", "item-ISP-X-1", "importance-inspiring-shared-purpose-1"]
    )
    assert set(anchors) <= set(ids(html))


def test_saving_a_page_replaces_only_that_pages_answers_and_keeps_text_as_typed() -> None:
    draft = complete_section(1) | {"item:LWC-E": "2", "comment:overall_strengths": "Kind."}
    posted = {"item:LWC-E": "5", "comment:leading_with_care_comment": "  Line one\r\nline two  ", "item:ISP-E": "1"}

    merged = merge_page(BANK, 2, draft, posted)

    assert merged["item:LWC-E"] == "5"
    assert merged["comment:leading_with_care_comment"] == "Line one\nline two"
    assert merged["item:ISP-E"] == "4"  # not on page 2: the posted value is ignored
    assert merged["comment:overall_strengths"] == "Kind."
    assert "item:LWC-P" not in merge_page(BANK, 2, draft | {"item:LWC-P": "3"}, {})  # cleared


def test_pages_run_from_the_first_dimension_to_the_comments_page() -> None:
    assert next_page(BANK, 1) == 2 and next_page(BANK, 9) == COMMENTS_PAGE and next_page(BANK, COMMENTS_PAGE) is None
    assert previous_page(BANK, 1) is None and previous_page(BANK, COMMENTS_PAGE) == 9
    assert [parse_page(BANK, raw) for raw in ("1", "9", "comments", "0", "10", "x", "", "\u00b2", "\u0663")] == [
        1,
        9,
        COMMENTS_PAGE,
        None,
        None,
        None,
        None,
        None,
        None,
    ]


def test_the_comments_page_asks_both_required_questions() -> None:
    html = comments_page(BANK, PEER, values={}, errors=(), returning=True)

    assert 'name="comment:overall_strengths"' in html and 'name="comment:overall_development"' in html
    assert 'name="return" value="check"' in html
    assert 'href="/r/tok/check"' in html  # back to check your answers


def test_check_your_answers_lists_every_answer_with_a_change_link_per_page() -> None:
    values = complete_section(1) | {"item:LWC-E": "na", "comment:overall_strengths": "Calm & clear"}

    html = check_page(BANK, PEER, values=values, errors=())

    assert html.count('class="nhsuk-summary-list__row"') == 9 * (4 + 1 + 1) + 2
    assert "Very often" in html and "Not observed" in html and "Calm &amp; clear" in html
    assert html.count("Not answered") > 0
    for page in [*range(1, 10), "comments"]:
        assert f'href="/r/tok/{page}?return=check"' in html
    assert "Send my feedback" in html


def test_check_errors_link_to_the_page_and_field_where_the_answer_is_given() -> None:
    errors = page_errors(BANK, 2, {}, self_rating=False)[:1]

    html = check_page(BANK, PEER, values={}, errors=errors)

    assert '<a href="/r/tok/2?return=check#item-LWC-E-1">' in html


def test_declining_says_who_sees_the_reason() -> None:
    html = decline_page(PEER, reason="On leave", error=None)

    assert "Your reason will be shown to Amara Okafor" in html
    assert 'for="decline-reason"' in html and "On leave</textarea>" in html


def test_message_pages() -> None:
    assert "<h1>Link not recognised</h1>" in message_page(UNKNOWN_LINK)
    assert "You have already given feedback, thank you" in message_page(ALREADY_SUBMITTED)
