"""The questionnaire page: accessible structure, the rater's answers kept, errors linked to fields."""

import re

from ratings.config import DEFAULT_ITEM_BANK
from ratings.pages import ALREADY_SUBMITTED, UNKNOWN_LINK, message_page, questionnaire_page
from ratings.questionnaire import parse_form
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import load_item_bank

BANK = load_item_bank(DEFAULT_ITEM_BANK)


def ids(html: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', html)


def test_every_question_is_a_labelled_control_and_every_radio_group_a_fieldset_with_a_legend() -> None:
    html = questionnaire_page(BANK, group=RaterGroup.PEER, values={}, errors=())

    assert '<html lang="en">' in html
    assert html.count("<h1>") == 1
    assert html.count("<fieldset") == html.count("<legend>") == 36 + 9
    inputs = re.findall(r"<(?:input|textarea)\b[^>]*\bid=\"([^\"]+)\"", html)
    labels = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', html))
    assert len(inputs) == 36 * 6 + 9 * 5 + 9 + 2
    assert set(inputs) <= labels
    assert len(ids(html)) == len(set(ids(html)))
    assert 'name="item:ISP-E" value="na"' in html
    assert 'name="importance:leading_with_care" value="5"' in html
    assert 'name="comment:overall_strengths"' in html


def test_others_are_asked_about_the_person_who_invited_them_and_the_self_rater_about_themself() -> None:
    peer = questionnaire_page(BANK, group=RaterGroup.PEER, values={}, errors=())
    self_page = questionnaire_page(BANK, group=RaterGroup.SELF, values={}, errors=())

    assert "the person who invited you" in peer and "as a peer" in peer
    assert "They act in line with NHS values" in peer and "I act in line with NHS values" not in peer
    assert "Rate yourself" in self_page and "I act in line with NHS values" in self_page
    assert "How important is leading with care to your role?" in self_page


def test_a_failed_submission_keeps_the_answers_and_links_each_error_to_its_field() -> None:
    values = {
        "item:ISP-E": "3",
        "item:ISP-P": "na",
        "comment:overall_strengths": "<script>alert(1)</script> & more",
    }
    errors = parse_form(BANK, values, self_rating=False).errors

    html = questionnaire_page(BANK, group=RaterGroup.DIRECT_REPORT, values=values, errors=errors)

    assert html.index("There is a problem") < html.index("<h1>")
    assert "<title>Error: " in html
    assert re.search(r'id="item-ISP-E-3" name="item:ISP-E" value="3" checked', html)
    assert re.search(r'name="item:ISP-P" value="na" checked', html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more</textarea>" in html
    assert "<script>" not in html
    anchors = re.findall(r'<li><a href="#([^"]+)"', html)
    assert anchors == [e.anchor for e in errors]
    assert set(anchors) <= set(ids(html))
    assert f'aria-describedby="{errors[0].field.replace(":", "-")}-error"' in html


def test_message_pages() -> None:
    assert "<h1>Link not recognised</h1>" in message_page(UNKNOWN_LINK)
    assert "You have already given feedback, thank you" in message_page(ALREADY_SUBMITTED)
