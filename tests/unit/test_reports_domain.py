"""Report aggregation and anonymity rules (pure, no servers)."""

import random
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.domain import (
    ALL_OTHERS,
    COMBINED,
    Answer,
    Comment,
    Response,
    compile_figures,
    decide_disclosure,
    responses_complete,
    summarise,
)
from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension, RaterGroup

G = RaterGroup
D = Dimension
CYCLE = UUID("6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10")
ITEMS = (
    ("ISP-E", D.INSPIRING_SHARED_PURPOSE),
    ("ISP-P", D.INSPIRING_SHARED_PURPOSE),
    ("LWC-E", D.LEADING_WITH_CARE),
    ("HTA-S", D.HOLDING_TO_ACCOUNT),
)


def response(group: RaterGroup, scores: list[int | None], *, importance: int = 3, comment: str = "") -> Response:
    return Response(
        group=group,
        answers=tuple(Answer(item_id=i, dimension=d, score=s) for (i, d), s in zip(ITEMS, scores, strict=True)),
        importance={d: importance for _, d in ITEMS},
        comments=(Comment(question_id="overall_strengths", text=comment),) if comment else (),
    )


def figures(responses: list[Response], threshold: int = 3) -> dict[str, Any]:
    return compile_figures(responses, cycle_id=CYCLE, threshold=threshold, gap_threshold=0.75)


def dimension(figs: dict[str, Any], dim: Dimension) -> dict[str, Any]:
    return next(d for d in figs["dimensions"] if d["dimension"] == dim.value)


def item(figs: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for d in figs["dimensions"] for i in d["items"] if i["item_id"] == item_id)


def all_comments(figs: dict[str, Any]) -> list[str]:
    return [t for q in figs["comments"] + figs["own_comments"] for t in q["texts"]]


# --- aggregation maths -------------------------------------------------------------------------


def test_summary_excludes_not_observed_and_counts_each_score() -> None:
    assert summarise([5, 4, None, 4, 1]) == {
        "mean": 3.5,
        "count": 4,
        "not_observed": 1,
        "distribution": [1, 0, 0, 2, 1],
    }
    assert summarise([None, None])["mean"] is None


def test_dimension_and_item_means_per_group() -> None:
    figs = figures(
        [
            response(G.SELF, [5, 5, 2, 4], importance=5),
            response(G.LINE_MANAGER, [3, None, 4, 4], importance=4),
            response(G.PEER, [4, 2, 1, 3], importance=2),
            response(G.PEER, [2, 2, 5, None], importance=3),
            response(G.PEER, [3, None, 3, 5], importance=4),
        ]
    )
    isp = dimension(figs, D.INSPIRING_SHARED_PURPOSE)
    assert isp["title"] == DIMENSION_TITLES[D.INSPIRING_SHARED_PURPOSE]
    assert isp["by_group"]["self"]["mean"] == 5.0
    assert isp["by_group"]["line_manager"] == {
        "mean": 3.0,
        "count": 1,
        "not_observed": 1,
        "distribution": [0, 0, 1, 0, 0],
    }
    assert isp["by_group"]["peer"]["mean"] == round((4 + 2 + 2 + 2 + 3) / 5, 2)
    assert isp["by_group"][ALL_OTHERS]["mean"] == round((3 + 4 + 2 + 2 + 2 + 3) / 6, 2)
    assert isp["by_group"][ALL_OTHERS]["count"] == 6
    assert isp["importance"] == {"mean": round((5 + 4 + 2 + 3 + 4) / 5, 2), "count": 5}
    assert item(figs, "ISP-P")["by_group"]["peer"] == {
        "mean": 2.0,
        "count": 2,
        "not_observed": 1,
        "distribution": [0, 2, 0, 0, 0],
    }
    # self 5.0 vs others 16/6: a blind spot; leading with care self 2 vs others 13/4: a hidden strength
    assert isp["gap"] == round(5 - 16 / 6, 2) and isp["flag"] == "blind_spot"
    lwc = dimension(figs, D.LEADING_WITH_CARE)
    assert lwc["gap"] == round(2 - 13 / 4, 2) and lwc["flag"] == "hidden_strength"
    assert dimension(figs, D.HOLDING_TO_ACCOUNT)["flag"] is None  # 4 vs 4
    assert [d["dimension"] for d in figs["blind_spots"]] == [D.INSPIRING_SHARED_PURPOSE.value]
    assert [d["dimension"] for d in figs["hidden_strengths"]] == [D.LEADING_WITH_CARE.value]
    assert [i["item_id"] for i in figs["highest"]] == ["HTA-S", "LWC-E"]
    assert [i["item_id"] for i in figs["lowest"]] == ["ISP-P", "ISP-E"]
    assert dimension(figs, D.SHARING_THE_VISION)["items"] == []


def test_columns_list_self_line_manager_visible_groups_then_all_others() -> None:
    figs = figures([response(G.SELF, [1] * 4), response(G.LINE_MANAGER, [2] * 4)] + [response(G.PEER, [3] * 4)] * 3)
    assert [(c["key"], c["count"]) for c in figs["columns"]] == [
        ("self", 1),
        ("line_manager", 1),
        ("peer", 3),
        (ALL_OTHERS, 4),
    ]


# --- anonymity ---------------------------------------------------------------------------------


def test_threshold_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        decide_disclosure({G.PEER: 5}, threshold=1)


def test_two_peers_are_pooled_with_other_small_groups_when_the_pool_reaches_the_threshold() -> None:
    disclosure = decide_disclosure({G.SELF: 1, G.LINE_MANAGER: 1, G.PEER: 2, G.OTHER: 1}, threshold=3)
    assert [g.key for g in disclosure.shown] == ["self", "line_manager", COMBINED]
    combined = disclosure.shown[-1]
    assert combined.members == (G.PEER, G.OTHER) and combined.count == 3
    assert disclosure.pooled == (G.PEER, G.OTHER) and disclosure.suppressed == ()


def test_two_peers_alone_are_suppressed_scores_and_comments() -> None:
    figs = figures(
        [
            response(G.SELF, [3, 3, 3, 3], comment="my own view"),
            response(G.LINE_MANAGER, [4, 4, 4, 4], comment="manager view"),
            response(G.PEER, [1, 1, 1, 1], comment="peer secret one"),
            response(G.PEER, [1, 1, 1, 1], comment="peer secret two"),
        ]
    )
    assert figs["suppressed"] == ["peer"] and figs["pooled"] == []
    assert [c["key"] for c in figs["columns"]] == ["self", "line_manager", ALL_OTHERS]
    others = dimension(figs, D.INSPIRING_SHARED_PURPOSE)["by_group"][ALL_OTHERS]
    assert others == {"mean": 4.0, "count": 2, "not_observed": 0, "distribution": [0, 0, 0, 2, 0]}
    assert "peer secret one" not in all_comments(figs) and "peer secret two" not in all_comments(figs)
    assert all_comments(figs) == ["manager view", "my own view"]
    assert not any(c["key"] == "peer" for c in figs["columns"])


def test_all_others_never_includes_a_suppressed_group() -> None:
    base = [response(G.LINE_MANAGER, [2, 2, 2, 2])] + [response(G.PEER, [4, 4, 4, 4])] * 3
    hidden = [response(G.DIRECT_REPORT, [1, 1, 1, 1]), response(G.DIRECT_REPORT, [1, 1, 1, 1])]
    figs = figures(base + hidden)
    assert figs["suppressed"] == ["direct_report"]
    others = next(c for c in figs["columns"] if c["key"] == ALL_OTHERS)
    assert others["count"] == 4 and others["members"] == ["line_manager", "peer"]
    assert dimension(figs, D.INSPIRING_SHARED_PURPOSE)["by_group"][ALL_OTHERS]["mean"] == 3.5
    assert figures(base) | {"suppressed": [], "without_responses": []} == figs | {
        "suppressed": [],
        "without_responses": [],
    }


def test_comments_are_shuffled_deterministically_and_independent_of_arrival_order() -> None:
    texts = [f"comment {n}" for n in range(12)]
    responses = [response(G.PEER, [3, 3, 3, 3], comment=t) for t in texts]
    first = figures(responses)["comments"][0]["texts"]
    assert sorted(first) == sorted(texts) and first != sorted(texts)
    assert figures(list(reversed(responses)))["comments"][0]["texts"] == first
    other_cycle = compile_figures(responses, cycle_id=uuid4(), threshold=3, gap_threshold=0.75)
    assert sorted(other_cycle["comments"][0]["texts"]) == sorted(texts)


def test_responses_complete_ignores_groups_announced_with_zero() -> None:
    assert responses_complete({G.SELF: 1, G.PEER: 3}, {G.SELF: 1, G.PEER: 3, G.OTHER: 0})
    assert not responses_complete({G.SELF: 1, G.PEER: 2}, {G.SELF: 1, G.PEER: 3})
    assert not responses_complete({G.SELF: 1, G.PEER: 4}, {G.SELF: 1, G.PEER: 3})


# --- property: no shown figure depends on a suppressed group's answers ---------------------------

SCORE = st.one_of(st.none(), st.integers(min_value=1, max_value=5))
GROUP_SIZES = st.fixed_dictionaries(
    {
        G.SELF: st.integers(0, 1),
        G.LINE_MANAGER: st.integers(0, 1),
        G.PEER: st.integers(0, 5),
        G.DIRECT_REPORT: st.integers(0, 5),
        G.OTHER: st.integers(0, 5),
    }
)


@st.composite
def answers_for(draw: st.DrawFn, group: RaterGroup) -> Response:
    return Response(
        group=group,
        answers=tuple(Answer(item_id=i, dimension=d, score=draw(SCORE)) for i, d in ITEMS),
        importance={d: draw(st.integers(1, 5)) for d in draw(st.sets(st.sampled_from([d for _, d in ITEMS])))},
        comments=tuple(
            Comment(question_id=draw(st.sampled_from(["overall_strengths", "overall_development"])), text=t)
            for t in draw(st.lists(st.text(min_size=1, max_size=8), max_size=2))
        ),
    )


@st.composite
def cycles(draw: st.DrawFn) -> tuple[int, list[Response], list[Response]]:
    """A response set and a variant whose suppressed groups answered differently."""
    threshold = draw(st.integers(2, 4))
    sizes = draw(GROUP_SIZES)
    suppressed = set(decide_disclosure(sizes, threshold=threshold).suppressed)
    original: list[Response] = []
    variant: list[Response] = []
    for group, n in sizes.items():
        for _ in range(n):
            answered = draw(answers_for(group))
            original.append(answered)
            variant.append(draw(answers_for(group)) if group in suppressed else answered)
    return threshold, original, variant


@settings(max_examples=300, deadline=None)
@given(cycles(), st.randoms(use_true_random=False))
def test_no_shown_figure_depends_on_a_suppressed_group(
    case: tuple[int, list[Response], list[Response]], shuffler: random.Random
) -> None:
    threshold, original, variant = case
    shuffler.shuffle(variant)  # arrival order must not matter either
    assert figures(original, threshold) == figures(variant, threshold)
