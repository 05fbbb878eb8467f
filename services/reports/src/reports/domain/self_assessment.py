"""The free self-assessment: one person's own answers, for their eyes only."""

from __future__ import annotations

from reports.domain.anonymity import Response, Wording, item_order, question_order, summarise
from reports.domain.figures import CommentGroup, OwnDimension, OwnItem, SelfAssessmentFigures
from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension


def _own_dimension(response: Response, dimension: Dimension, *, wording: Wording) -> OwnDimension:
    answers = sorted(
        (a for a in response.answers if a.dimension is dimension), key=lambda a: item_order(a.item_id, wording)
    )
    return OwnDimension(
        dimension=dimension.value,
        title=DIMENSION_TITLES[dimension],
        figure=summarise(a.score for a in answers),
        importance=response.importance.get(dimension),
        items=tuple(
            OwnItem(
                item_id=a.item_id,
                text=wording.behaviour(a.item_id).text,
                level=wording.behaviour(a.item_id).level,
                score=a.score,
            )
            for a in answers
        ),
    )


def self_assessment_figures(response: Response, *, wording: Wording) -> SelfAssessmentFigures:
    """Per dimension: the person's own ratings of each behaviour, their average and the importance they gave."""
    dimensions = tuple(_own_dimension(response, d, wording=wording) for d in Dimension)
    rated = [d for d in dimensions if d.figure.mean is not None]
    ordered = sorted(rated, key=lambda d: (-(d.figure.mean or 0.0), d.dimension))
    top = min(3, len(ordered) // 2)
    return SelfAssessmentFigures(
        dimensions=dimensions,
        strongest=tuple(d.title for d in ordered[:top]),
        to_develop=tuple(d.title for d in list(reversed(ordered))[:top]),
        comments=tuple(
            CommentGroup(
                question_id=q,
                title=wording.question(q),
                texts=tuple(c.text for c in response.comments if c.question_id == q),
            )
            for q in sorted({c.question_id for c in response.comments}, key=question_order)
        ),
    )
