"""The item bank is data: the default bank is complete, another bank loads by setting, a broken one is refused."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ratings.config import DEFAULT_ITEM_BANK, Settings
from ratings.main import create_app
from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension
from shared.questionnaire import ItemBankError, Level, load_item_bank

DATABASE_URL = "postgresql+asyncpg://user:not-a-placeholder@127.0.0.1:1/ratings"


def default_bank_json() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DEFAULT_ITEM_BANK.read_text(encoding="utf-8"))
    return data


def write(tmp_path: Path, data: dict[str, Any] | str) -> Path:
    path = tmp_path / "bank.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_default_bank_has_one_statement_per_level_for_each_of_the_nine_dimensions() -> None:
    bank = load_item_bank(DEFAULT_ITEM_BANK)

    assert bank.version == "hlm360-default-1"
    assert [s.dimension for s in bank.dimensions] == list(Dimension)
    assert [s.title for s in bank.dimensions] == [DIMENSION_TITLES[d] for d in Dimension]
    assert len(bank.items) == 36
    for section in bank.dimensions:
        assert [item.level for item in section.items] == list(Level)
        code = section.items[0].id.split("-")[0]
        assert [item.id for item in section.items] == [f"{code}-{s}" for s in "EPSX"]
        assert section.comment is not None
    assert bank.dimensions[0].items[0].id == "ISP-E"
    assert len({item.id for _, item in bank.items}) == 36


def test_default_bank_speaks_to_the_self_rater_in_the_first_person_and_about_others_in_the_third() -> None:
    bank = load_item_bank(DEFAULT_ITEM_BANK)

    for _, item in bank.items:
        assert item.first_person.startswith("I "), item.id
        assert item.third_person.startswith("They "), item.id
        assert item.for_rater(self_rating=True) == item.first_person
        assert item.for_rater(self_rating=False) == item.third_person
        assert not re.search(r"\b(my|me|I)\b", item.third_person), item.id


def test_default_bank_scales_and_free_text_questions() -> None:
    bank = load_item_bank(DEFAULT_ITEM_BANK)

    assert [(p.value, p.label) for p in bank.frequency_scale] == [
        (1, "Rarely"),
        (2, "Sometimes"),
        (3, "Often"),
        (4, "Very often"),
        (5, "Almost always"),
    ]
    assert bank.not_observed_label == "Not observed"
    assert (bank.importance_scale[0].label, bank.importance_scale[-1].label) == (
        "Not important",
        "Essential to the role",
    )
    assert {(c.id, c.required) for c in bank.comments} == {
        ("overall_strengths", True),
        ("overall_development", True),
    }
    assert bank.dimensions[0].comment_id == "inspiring_shared_purpose_comment"


def test_another_bank_is_loaded_from_the_item_bank_path_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = default_bank_json()
    data["version"] = "trust-licensed-2"
    data["dimensions"][0]["items"].append(
        {
            "id": "ISP-E2",
            "level": "essential",
            "first_person": "I keep my promises.",
            "third_person": "They keep their promises.",
        }
    )
    monkeypatch.setenv("RATINGS_ITEM_BANK_PATH", str(write(tmp_path, data)))

    settings = Settings(database_url=DATABASE_URL)  # type: ignore[arg-type]
    bank = load_item_bank(settings.item_bank_path)

    assert bank.version == "trust-licensed-2"
    assert len(bank.items) == 37


def _drop_dimension(data: dict[str, Any]) -> None:
    data["dimensions"] = [d for d in data["dimensions"] if d["dimension"] != "holding_to_account"]


def _duplicate_item_id(data: dict[str, Any]) -> None:
    data["dimensions"][1]["items"][0]["id"] = "ISP-E"


def _drop_level(data: dict[str, Any]) -> None:
    data["dimensions"][2]["items"] = data["dimensions"][2]["items"][:3]


def _rename_dimension(data: dict[str, Any]) -> None:
    data["dimensions"][0]["title"] = "Inspiring purpose"


def _six_point_scale(data: dict[str, Any]) -> None:
    data["frequency_scale"].append({"value": 6, "label": "Always"})


def _optional_strengths(data: dict[str, Any]) -> None:
    data["comments"][0]["required"] = False


def _no_development_question(data: dict[str, Any]) -> None:
    data["comments"] = data["comments"][:1]


def _misspelt_field(data: dict[str, Any]) -> None:
    data["dimensions"][0]["items"][0]["thrid_person"] = "They ..."


def _unknown_dimension(data: dict[str, Any]) -> None:
    data["dimensions"][0]["dimension"] = "being_nice"


def _empty_statement(data: dict[str, Any]) -> None:
    data["dimensions"][0]["items"][1]["third_person"] = "   "


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_drop_dimension, "dimension(s) missing: holding_to_account"),
        (_duplicate_item_id, "item id(s) used more than once: ISP-E"),
        (_drop_level, "evaluating_information has no item for level(s): exemplary"),
        (_rename_dimension, "title of inspiring_shared_purpose must be 'Inspiring shared purpose'"),
        (_six_point_scale, "frequency_scale must have the values 1, 2, 3, 4, 5 in order"),
        (_optional_strengths, "comment 'overall_strengths' must be present and required"),
        (_no_development_question, "comment 'overall_development' must be present and required"),
        (_misspelt_field, "dimensions.0.items.0.thrid_person: Extra inputs are not permitted"),
        (_unknown_dimension, "dimensions.0.dimension: Input should be"),
        (_empty_statement, "dimensions.0.items.1.third_person: String should have at least 1 character"),
    ],
)
def test_a_broken_bank_is_refused_with_a_message_naming_the_file_and_the_problem(
    tmp_path: Path, breakage: Any, expected: str
) -> None:
    data = default_bank_json()
    breakage(data)
    path = write(tmp_path, data)

    with pytest.raises(ItemBankError) as refused:
        load_item_bank(path)

    assert str(refused.value).startswith(f"item bank {path} refused: ")
    assert expected in str(refused.value)


def test_a_bank_that_is_not_json_is_refused_with_the_position(tmp_path: Path) -> None:
    path = write(tmp_path, '{"version": "x",\n  "title": }')

    with pytest.raises(ItemBankError, match=r"refused: not valid JSON \(line 2, column"):
        load_item_bank(path)


def test_a_missing_bank_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ItemBankError, match="cannot be read"):
        load_item_bank(tmp_path / "nope.json")


def test_the_service_refuses_to_start_with_a_broken_bank(tmp_path: Path) -> None:
    data = default_bank_json()
    _drop_dimension(data)
    settings = Settings(database_url=DATABASE_URL, item_bank_path=write(tmp_path, data))  # type: ignore[arg-type]

    with pytest.raises(ItemBankError, match="dimension"):
        create_app(settings)
