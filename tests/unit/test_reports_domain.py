"""Report aggregation and anonymity rules (pure, no servers), with a property-based leak search."""

import dataclasses
import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.domain import (
    ALL_OTHERS,
    COMBINED,
    Answer,
    Behaviour,
    Comment,
    ReportFigures,
    Response,
    Wording,
    cohort_figures,
    cohort_snapshot_allowed,
    compare,
    compile_figures,
    decide_disclosure,
    responses_complete,
    self_assessment_figures,
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
WORDING = Wording(
    behaviours={"ISP-E": Behaviour(text="They act in line with NHS values.", level="essential")},
    questions={"overall_strengths": "What are their main strengths as a leader?"},
)


def response(group: RaterGroup, scores: list[int | None], *, importance: int = 3, comment: str = "") -> Response:
    return Response(
        group=group,
        answers=tuple(Answer(item_id=i, dimension=d, score=s) for (i, d), s in zip(ITEMS, scores, strict=True)),
        importance={d: importance for _, d in ITEMS},
        comments=(Comment(question_id="overall_strengths", text=comment),) if comment else (),
    )


def typed(responses: list[Response], threshold: int = 3) -> ReportFigures:
    return compile_figures(responses, cycle_id=CYCLE, threshold=threshold, gap_threshold=0.75, wording=WORDING)


def figures(responses: list[Response], threshold: int = 3) -> dict[str, Any]:
    """The figures as published: the JSON document the templates read and the database stores."""
    return typed(responses, threshold).as_json()


def dimension(figs: dict[str, Any], dim: Dimension) -> dict[str, Any]:
    return next(d for d in figs["dimensions"] if d["dimension"] == dim.value)


def item(figs: dict[str, Any], item_id: str) -> dict[str, Any]:
    return next(i for d in figs["dimensions"] for i in d["items"] if i["item_id"] == item_id)


def all_comments(figs: dict[str, Any]) -> list[str]:
    return [t for q in figs["comments"] + figs["own_comments"] for t in q["texts"]]


def fig(mean: float | None, count: int, not_observed: int, distribution: list[int]) -> dict[str, Any]:
    return {
        "mean": mean,
        "count": count,
        "not_observed": not_observed,
        "distribution": distribution,
        "withheld": False,
    }


# --- aggregation maths -------------------------------------------------------------------------


def test_summary_excludes_not_observed_and_counts_each_score() -> None:
    assert summarise([5, 4, None, 4, 1]).as_json() == fig(3.5, 4, 1, [1, 0, 0, 2, 1])
    assert summarise([None, None]).mean is None


def test_dimension_and_item_means_per_group() -> None:
    figs = figures(
        [
            response(G.SELF, [5, 5, 2, 4], importance=5),
            response(G.LINE_MANAGER, [3, 2, 4, 4], importance=4),
            response(G.PEER, [4, 2, 1, 3], importance=2),
            response(G.PEER, [2, 2, 5, 4], importance=3),
            response(G.PEER, [3, 1, 3, 5], importance=4),
        ]
    )
    isp = dimension(figs, D.INSPIRING_SHARED_PURPOSE)
    assert isp["title"] == DIMENSION_TITLES[D.INSPIRING_SHARED_PURPOSE]
    assert isp["by_group"]["self"]["mean"] == 5.0
    assert isp["by_group"]["line_manager"] == fig(2.5, 2, 0, [0, 1, 1, 0, 0])
    assert isp["by_group"]["peer"]["mean"] == round((4 + 2 + 3 + 2 + 2 + 1) / 6, 2)
    assert isp["by_group"][ALL_OTHERS]["mean"] == round((3 + 2 + 4 + 2 + 3 + 2 + 2 + 1) / 8, 2)
    assert isp["by_group"][ALL_OTHERS]["count"] == 8
    assert isp["importance"]["self"]["mean"] == 5
    assert isp["importance"][ALL_OTHERS] == fig(3.25, 4, 0, [0, 1, 1, 2, 0])
    assert item(figs, "ISP-P")["by_group"]["peer"] == fig(round(5 / 3, 2), 3, 0, [1, 2, 0, 0, 0])
    # self 5.0 vs others 19/8: a blind spot; leading with care self 2 vs others 13/4: a hidden strength
    assert isp["gap"] == round(5 - 19 / 8, 2) and isp["flag"] == "blind_spot"
    lwc = dimension(figs, D.LEADING_WITH_CARE)
    assert lwc["gap"] == round(2 - 13 / 4, 2) and lwc["flag"] == "hidden_strength"
    assert dimension(figs, D.HOLDING_TO_ACCOUNT)["flag"] is None  # 4 vs 4
    assert [d["dimension"] for d in figs["blind_spots"]] == [D.INSPIRING_SHARED_PURPOSE.value]
    assert figs["blind_spots"][0]["self"] == 5.0 and figs["blind_spots"][0]["others"] == round(19 / 8, 2)
    assert [d["dimension"] for d in figs["hidden_strengths"]] == [D.LEADING_WITH_CARE.value]
    assert [i["item_id"] for i in figs["highest"]] == ["HTA-S", "LWC-E"]
    assert [i["item_id"] for i in figs["lowest"]] == ["ISP-P", "ISP-E"]
    assert figs["lowest"][1]["text"] == "They act in line with NHS values."
    assert dimension(figs, D.SHARING_THE_VISION)["items"] == []


def test_items_are_named_from_the_item_bank_in_level_order() -> None:
    from reports.itembank import wording_for

    wording = wording_for("hlm360-default-1")
    assert wording.behaviour("ISP-E").text.startswith("They act in line with NHS values")
    assert wording.behaviour("ISP-E").level == "essential"
    assert wording.question("overall_strengths") == "What are their main strengths as a leader?"
    assert wording_for("hlm360-default-1", first_person=True).behaviour("ISP-E").text.startswith("I act")
    assert wording_for("no-such-bank").behaviour("ISP-E").text == "ISP-E"
    responses = [
        Response(
            group=G.SELF,
            answers=tuple(
                Answer(item_id=i, dimension=D.INSPIRING_SHARED_PURPOSE, score=3)
                for i in ("ISP-X", "ISP-E", "ISP-S", "ISP-P")
            ),
        )
    ]
    figs = compile_figures(responses, cycle_id=CYCLE, threshold=3, gap_threshold=0.75, wording=wording).as_json()
    assert [i["level"] for i in dimension(figs, D.INSPIRING_SHARED_PURPOSE)["items"]] == [
        "essential",
        "proficient",
        "strong",
        "exemplary",
    ]


def test_columns_list_self_line_manager_visible_groups_then_all_others() -> None:
    figs = figures([response(G.SELF, [1] * 4), response(G.LINE_MANAGER, [2] * 4)] + [response(G.PEER, [3] * 4)] * 3)
    assert [(c["key"], c["count"]) for c in figs["columns"]] == [
        ("self", 1),
        ("line_manager", 1),
        ("peer", 3),
        (ALL_OTHERS, 4),
    ]


def test_comparison_with_an_earlier_report_uses_published_dimension_figures() -> None:
    now = typed([response(G.SELF, [4] * 4), response(G.LINE_MANAGER, [4] * 4)] + [response(G.PEER, [4] * 4)] * 3)
    then = typed([response(G.SELF, [5] * 4), response(G.LINE_MANAGER, [3] * 4)] + [response(G.PEER, [2] * 4)] * 3)
    comparison = compare(now, then, earlier_closed="4 March 2025").as_json()
    isp = next(r for r in comparison["dimensions"] if r["dimension"] == D.INSPIRING_SHARED_PURPOSE.value)
    assert isp == {
        "dimension": "inspiring_shared_purpose",
        "title": "Inspiring shared purpose",
        "self_then": 5.0,
        "self_now": 4.0,
        "others_then": 2.25,
        "others_now": 4.0,
        "change": 1.75,
    }
    stv = next(r for r in comparison["dimensions"] if r["dimension"] == D.SHARING_THE_VISION.value)
    assert stv["change"] is None


def test_self_assessment_lists_own_answers_strongest_and_to_develop() -> None:
    own = response(G.SELF, [5, 5, 2, None], importance=4, comment="I want to delegate more <b>")
    figs = self_assessment_figures(own, wording=WORDING).as_json()
    isp = next(d for d in figs["dimensions"] if d["dimension"] == D.INSPIRING_SHARED_PURPOSE.value)
    assert isp["figure"]["mean"] == 5.0 and isp["importance"] == 4
    assert isp["items"][0] == {
        "item_id": "ISP-E",
        "text": "They act in line with NHS values.",
        "level": "essential",
        "score": 5,
    }
    assert figs["strongest"] == ["Inspiring shared purpose"] and figs["to_develop"] == ["Leading with care"]
    assert figs["comments"][0]["texts"] == ["I want to delegate more <b>"]


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
    assert others == fig(4.0, 2, 0, [0, 0, 0, 2, 0])
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


def test_a_behaviour_answered_by_fewer_than_the_threshold_of_a_group_is_withheld_everywhere() -> None:
    # Three peers, but only two of them observed ISP-E: their two answers must not be readable
    # from the peer item, nor from "all others" minus the line manager, nor from the dimension.
    peers = [response(G.PEER, [5, 3, 3, 3]), response(G.PEER, [1, 3, 3, 3]), response(G.PEER, [None, 3, 3, 3])]
    figs = figures([response(G.SELF, [3] * 4), response(G.LINE_MANAGER, [4, 4, 4, 4]), *peers])
    isp_e = item(figs, "ISP-E")["by_group"]
    assert isp_e["peer"]["withheld"] and isp_e["peer"]["distribution"] is None
    assert isp_e[ALL_OTHERS] == fig(4.0, 1, 0, [0, 0, 0, 1, 0])  # the line manager only
    isp = dimension(figs, D.INSPIRING_SHARED_PURPOSE)["by_group"]
    assert isp["peer"] == fig(3.0, 3, 0, [0, 0, 3, 0, 0])  # ISP-P only
    assert figs["withheld_items"] == 1
    changed = [response(G.PEER, [2, 3, 3, 3]), response(G.PEER, [4, 3, 3, 3]), peers[2]]
    assert figures([response(G.SELF, [3] * 4), response(G.LINE_MANAGER, [4, 4, 4, 4]), *changed]) == figs


def test_importance_from_too_few_anonymous_raters_is_withheld() -> None:
    raters = [
        response(G.SELF, [3] * 4, importance=5),
        response(G.LINE_MANAGER, [3] * 4, importance=2),
        response(G.PEER, [3] * 4, importance=1),
        Response(group=G.PEER, answers=response(G.PEER, [3] * 4).answers),  # no importance answers
        Response(group=G.PEER, answers=response(G.PEER, [3] * 4).answers),
    ]
    importance = dimension(figures(raters), D.INSPIRING_SHARED_PURPOSE)["importance"]
    assert importance["peer"]["withheld"]
    assert importance[ALL_OTHERS] == fig(2.0, 1, 0, [0, 1, 0, 0, 0])


def test_comments_are_shuffled_deterministically_and_independent_of_arrival_order() -> None:
    texts = [f"comment {n}" for n in range(12)]
    responses = [response(G.PEER, [3, 3, 3, 3], comment=t) for t in texts]
    first = figures(responses)["comments"][0]["texts"]
    assert sorted(first) == sorted(texts) and first != sorted(texts)
    assert figures(list(reversed(responses)))["comments"][0]["texts"] == first
    assert figures(responses)["comments"][0]["title"] == "What are their main strengths as a leader?"
    other_cycle = compile_figures(responses, cycle_id=uuid4(), threshold=3, gap_threshold=0.75).as_json()
    assert sorted(other_cycle["comments"][0]["texts"]) == sorted(texts)


def test_responses_complete_ignores_groups_announced_with_zero() -> None:
    assert responses_complete({G.SELF: 1, G.PEER: 3}, {G.SELF: 1, G.PEER: 3, G.OTHER: 0})
    assert not responses_complete({G.SELF: 1, G.PEER: 2}, {G.SELF: 1, G.PEER: 3})
    assert not responses_complete({G.SELF: 1, G.PEER: 4}, {G.SELF: 1, G.PEER: 3})


def test_cohort_needs_threshold_participants_per_figure_and_snapshots_must_differ_enough() -> None:
    one = typed([response(G.SELF, [4] * 4), response(G.LINE_MANAGER, [2] * 4)] + [response(G.PEER, [3] * 4)] * 3)
    no_manager = typed([response(G.SELF, [2] * 4)] + [response(G.PEER, [5] * 4)] * 3)
    with pytest.raises(ValueError, match="at least 3 participants"):
        cohort_figures([one, one], threshold=3)
    cohort = cohort_figures([one, one, no_manager], threshold=3).as_json()
    isp = next(d for d in cohort["dimensions"] if d["dimension"] == D.INSPIRING_SHARED_PURPOSE.value)
    assert isp["by_group"]["self"]["mean"] == round((4 * 2 + 4 * 2 + 2 * 2) / 6, 2)
    assert isp["by_group"]["line_manager"]["withheld"]  # only two participants have a line manager's figure
    assert isp["by_group"][ALL_OTHERS]["participants"] == 3
    assert cohort_snapshot_allowed([frozenset("abc")], frozenset("abcdef"), threshold=3)
    assert not cohort_snapshot_allowed([frozenset("abc")], frozenset("abcd"), threshold=3)
    assert cohort_snapshot_allowed([frozenset("abc")], frozenset("abc"), threshold=3)


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


# --- property: leak search by linear algebra over every published figure --------------------------
#
# Every published figure carries a distribution (how many answered 1..5); means, gaps, "all others"
# and rankings are functions of those. With the "not observed" pattern fixed, each distribution is a
# sum over a set of answer cells (rater x question). The reader knows the self and line manager cells
# (their own answers; the manager is shown by role). A leak is any linear combination of published
# distributions that depends on the answers of fewer than `threshold` anonymous raters and nothing
# else unknown: e.g. "all others" minus the line manager minus the visible groups. Such a set S exists
# exactly when deleting S's cells lowers the rank of the published-figures matrix.

PRIME = (1 << 61) - 1
Cell = tuple[int, str]  # (rater index, question: item id or "importance:<dimension>")


def _distributions(node: Any, path: str = "") -> Iterator[tuple[str, list[int]]]:
    if isinstance(node, dict):
        if isinstance(node.get("distribution"), list):
            dist = node["distribution"]
            count = sum(dist)
            expected = round(sum((s + 1) * n for s, n in enumerate(dist)) / count, 2) if count else None
            assert node["mean"] == expected, f"{path}: mean is not a function of the published distribution"
            yield path, dist
        for key in sorted(node):
            yield from _distributions(node[key], f"{path}/{key}")
    elif isinstance(node, list):
        for n, child in enumerate(node):
            yield from _distributions(child, f"{path}/{n}")


def _cells(responses: list[Response]) -> list[Cell]:
    cells: list[Cell] = []
    for r, response in enumerate(responses):
        cells += [(r, a.item_id) for a in response.answers if a.score is not None]
        cells += [(r, f"importance:{d.value}") for d in response.importance]
    return cells


def _with_cell_changed(responses: list[Response], cell: Cell) -> list[Response]:
    r, question = cell
    old = responses[r]
    if question.startswith("importance:"):
        dim = Dimension(question.split(":", 1)[1])
        new = dataclasses.replace(old, importance={**old.importance, dim: old.importance[dim] % 5 + 1})
    else:
        answers = tuple(
            dataclasses.replace(a, score=a.score % 5 + 1) if a.item_id == question and a.score else a
            for a in old.answers
        )
        new = dataclasses.replace(old, answers=answers)
    return [new if n == r else x for n, x in enumerate(responses)]


def _rank(rows: list[list[int]]) -> int:
    matrix = [row[:] for row in rows if any(row)]
    rank, columns = 0, len(matrix[0]) if matrix else 0
    for c in range(columns):
        pivot = next((i for i in range(rank, len(matrix)) if matrix[i][c] % PRIME), None)
        if pivot is None:
            continue
        matrix[rank], matrix[pivot] = matrix[pivot], matrix[rank]
        inverse = pow(matrix[rank][c], PRIME - 2, PRIME)
        matrix[rank] = [v * inverse % PRIME for v in matrix[rank]]
        for i in range(len(matrix)):
            if i != rank and matrix[i][c] % PRIME:
                factor = matrix[i][c]
                matrix[i] = [(a - factor * b) % PRIME for a, b in zip(matrix[i], matrix[rank], strict=True)]
        rank += 1
    return rank


def find_leaks(
    compile_fn: Callable[[list[Response]], dict[str, Any]], responses: list[Response], threshold: int
) -> list[frozenset[int]]:
    """Smallest sets of fewer than `threshold` anonymous raters whose answers a combination of figures reveals."""
    base = dict(_distributions(compile_fn(responses)))
    anonymous = {r for r, x in enumerate(responses) if x.group not in (G.SELF, G.LINE_MANAGER)}
    unknown = [c for c in _cells(responses) if c[0] in anonymous]
    columns: list[list[int]] = []
    for cell in unknown:
        changed = dict(_distributions(compile_fn(_with_cell_changed(responses, cell))))
        assert changed.keys() == base.keys(), "the set of published figures depends on a score"
        columns.append([int(changed[p] != base[p]) for p in base])
    if not columns:
        return []
    rows = [[col[i] for col in columns] for i in range(len(base))]
    full = _rank(rows)
    leaks: list[frozenset[int]] = []
    for size in range(1, threshold):
        for group in itertools.combinations(sorted(anonymous), size):
            keep = [j for j, cell in enumerate(unknown) if cell[0] not in group]
            found = frozenset(group)
            if not any(smaller < found for smaller in leaks) and _rank([[row[j] for j in keep] for row in rows]) < full:
                leaks.append(found)
    return leaks


LEAK_SIZES = st.fixed_dictionaries(
    {
        G.SELF: st.integers(0, 1),
        G.LINE_MANAGER: st.integers(0, 1),
        G.PEER: st.integers(0, 4),
        G.DIRECT_REPORT: st.integers(0, 3),
        G.OTHER: st.integers(0, 3),
    }
)


@st.composite
def leak_cases(draw: st.DrawFn) -> tuple[int, list[Response]]:
    threshold = draw(st.integers(2, 4))
    responses = [draw(answers_for(group)) for group, n in draw(LEAK_SIZES).items() for _ in range(n)]
    return threshold, responses


@settings(max_examples=120, deadline=None)
@given(leak_cases())
def test_leak_search_finds_no_combination_of_figures_that_reveals_fewer_than_threshold_raters(
    case: tuple[int, list[Response]],
) -> None:
    threshold, responses = case
    assert find_leaks(lambda rs: figures(rs, threshold), responses, threshold) == []


def test_leak_search_finds_the_attacks_it_is_meant_to_find() -> None:
    """The search is not vacuous: it catches a naive report's differencing and tiny item groups."""
    raters = [
        response(G.SELF, [3, 3, 3, 3]),
        response(G.LINE_MANAGER, [4, 4, 4, 4]),
        *[response(G.PEER, [4, 2, 3, 5]) for _ in range(3)],
        response(G.DIRECT_REPORT, [1, 5, 2, 2]),
    ]

    def naive_all_raters(rs: list[Response]) -> dict[str, Any]:
        figs = figures(rs)
        others = [r for r in rs if r.group is not G.SELF]
        # includes the lone direct report
        figs["all_raters"] = summarise(a.score for r in others for a in r.answers).as_json()
        return figs

    assert find_leaks(naive_all_raters, raters, 3) == [frozenset({5})]

    peers_one_unobserved = [
        *raters[:2],
        response(G.PEER, [4, 2, 3, 5]),
        response(G.PEER, [1, 2, 3, 5]),
        response(G.PEER, [None, 2, 3, 5]),
    ]

    def naive_items(rs: list[Response]) -> dict[str, Any]:
        figs = figures(rs)
        figs["peer_item"] = summarise(
            a.score for r in rs if r.group is G.PEER for a in r.answers if a.item_id == "ISP-E"
        ).as_json()
        return figs

    assert find_leaks(naive_items, peers_one_unobserved, 3) == [frozenset({2, 3})]
    assert find_leaks(lambda rs: figures(rs), peers_one_unobserved, 3) == []
