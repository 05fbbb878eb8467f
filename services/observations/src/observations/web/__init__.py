"""HTTP routes of the observations service, every page under `/observations`:

- `account`: the start page, one-time sign-in links, signing out
- `journal`: the signed-in journal (list and filter, record, show, edit, delete; drafts)
- `deps`: the dependencies they share; `common`: responses and form reading they share
"""

from fastapi import APIRouter

from observations.web import account, journal

router = APIRouter()
router.include_router(account.router)
router.include_router(journal.router)

__all__ = ["router"]
