"""HTTP routes, one module per audience: the JSON API (`api`), the public start page (`start`), the
participant's private view (`participant`) and the line manager's approval (`approval`)."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from invitations import pages
from invitations.web import api, approval, participant, start
from invitations.web.deps import BadLink

router = APIRouter()
for audience in (api, start, participant, approval):
    router.include_router(audience.router)


async def bad_link(request: Request, exc: Exception) -> HTMLResponse:
    """The page a personal link that does not work opens (deps.signed_link refused it)."""
    return pages.bad_link(exc.status_code if isinstance(exc, BadLink) else 404)


def install(app: FastAPI) -> None:
    """What the routes need from the app besides themselves: the answer to a bad link."""
    app.add_exception_handler(BadLink, bad_link)
