"""HTTP routes, one module per audience: the JSON API (`api`), the public start page (`start`), the
participant's private view (`participant`), the line manager's approval (`approval`) and asking for
a new link when one has expired (`new_link`)."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from invitations import pages
from invitations.web import api, approval, new_link, participant, start
from invitations.web.deps import BadLink, LinkExpired

router = APIRouter()
for audience in (api, start, participant, approval, new_link):
    router.include_router(audience.router)


async def bad_link(request: Request, exc: Exception) -> HTMLResponse:
    """The page a personal link that does not work opens (deps.signed_link refused it)."""
    return pages.bad_link(exc.status_code if isinstance(exc, BadLink) else 404)


async def link_expired(request: Request, exc: Exception) -> HTMLResponse:
    """The page an authentic but expired personal link opens (deps.signed_link): 410, a new link on offer."""
    if not isinstance(exc, LinkExpired):
        return pages.bad_link()
    return pages.link_expired(exc.purpose, base=f"/{new_link.PREFIXES[exc.purpose]}/{exc.cycle_id}/{exc.token}")


def install(app: FastAPI) -> None:
    """What the routes need from the app besides themselves: the answers to a bad or expired link."""
    app.add_exception_handler(BadLink, bad_link)
    app.add_exception_handler(LinkExpired, link_expired)
