"""The operators' JSON API. Routes that read or change one participant's cycle (progress, closing,
report location, session, attention list) need the service's admin token, `<SERVICE>_ADMIN_TOKEN`,
sent as `Authorization: Bearer <token>`. Unset, those routes answer 403: the API is off.

Public routes stay public: starting a 360 (the same as the public start page) and the directory of
choosable facilitators."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from shared.settings import ServiceSettings


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    settings: ServiceSettings = request.app.state.settings
    expected = settings.admin_token.get_secret_value() if settings.admin_token else None
    if not expected:
        variable = f"{settings.model_config.get('env_prefix', '')}ADMIN_TOKEN"
        raise HTTPException(status_code=403, detail=f"the admin API is disabled ({variable} is not set)")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")):
        raise HTTPException(
            status_code=401, detail="a valid admin token is required", headers={"WWW-Authenticate": "Bearer"}
        )


Admin = Annotated[None, Depends(require_admin)]
