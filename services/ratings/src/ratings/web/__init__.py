"""HTTP routes of the ratings service, one module per audience:

- `rater`: the rater's journey behind their personal link
- `self_assessment`: the free self-assessment
- `admin`: the counts-only cycle API
- `deps`: the dependencies they share; `common`: responses, refusals and page flow they share
"""

from fastapi import APIRouter

from ratings.web import admin, rater, self_assessment

router = APIRouter()
router.include_router(rater.router)
router.include_router(self_assessment.router)
router.include_router(admin.router)

__all__ = ["router"]
