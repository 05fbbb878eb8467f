"""The operators' JSON API. Routes that read or change one participant's cycle (progress, closing,
report location, session, attention list) need `Authorization: Bearer <token>` with either

- a staff access token from the configured OIDC issuer (`<SERVICE>_OIDC_ISSUER`, e.g. NHS CIS2)
  carrying one of `<SERVICE>_OIDC_ROLES` in its role claim (shared.web.oidc), or
- the service's static admin token, `<SERVICE>_ADMIN_TOKEN`, where it is allowed: by default only
  when the service's public URL is not https (local use); `<SERVICE>_ADMIN_TOKEN_ALLOWED` decides.

Answers: 403 when neither is configured (the API is off); 401 with `WWW-Authenticate: Bearer` for
no token, `Bearer error="invalid_token"` for a token that is not valid; 403 with
`error="insufficient_scope"` for a valid staff token without the role; 503 when the issuer's keys
cannot be fetched. No answer or log line holds the token or its claims (docs/adr/0013).

Public routes stay public: starting a 360 (the same as the public start page) and the directory of
choosable facilitators."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request

from shared.settings import WebSettings
from shared.web.oidc import InvalidToken, KeysUnavailable, OidcVerifier, roles_in, subject_hash

log = logging.getLogger(__name__)


def static_token(settings: WebSettings) -> str | None:
    """The static admin token if it is set and allowed here, else None."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    allowed = settings.admin_token_allowed if settings.admin_token_allowed is not None else not settings.on_https
    return token if token and allowed else None


def static_token_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _refused(status: int, detail: str, challenge: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail, headers={"WWW-Authenticate": challenge})


def _verifier(state: Any, settings: WebSettings) -> OidcVerifier | None:
    """One verifier (and so one key cache) per app, made on first use."""
    verifier: OidcVerifier | None = getattr(state, "oidc_verifier", None)
    if verifier is None and settings.oidc_issuer:
        verifier = OidcVerifier.of(settings)
        state.oidc_verifier = verifier
    return verifier


def _disabled(settings: WebSettings) -> HTTPException:
    prefix = settings.model_config.get("env_prefix", "")
    if settings.admin_token:
        why = f"{prefix}ADMIN_TOKEN is for local use; set {prefix}OIDC_ISSUER or {prefix}ADMIN_TOKEN_ALLOWED"
    else:
        why = f"neither {prefix}OIDC_ISSUER nor {prefix}ADMIN_TOKEN is set"
    return HTTPException(status_code=403, detail=f"the admin API is disabled ({why})")


async def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    given = credentials.strip() if scheme.lower() == "bearer" else ""
    await staff_subject(request, given)


async def staff_subject(request: Request, given: str) -> str:
    """Who a staff token stands for, as a name safe to log and audit (`local-admin` for the static
    token, `staff-<hash>` for an OIDC subject); else the HTTPException the operators' API answers."""
    settings: WebSettings = request.app.state.settings
    static = static_token(settings)
    verifier = _verifier(request.app.state, settings)
    if static is None and verifier is None:
        raise _disabled(settings)
    if not given:
        raise _refused(401, "a valid admin token is required", "Bearer")
    if static is not None and static_token_matches(static, given):
        return "local-admin"
    if verifier is None:
        raise _refused(401, "a valid admin token is required", 'Bearer error="invalid_token"')
    try:
        claims = await verifier.verify(given)
    except InvalidToken as refusal:
        log.debug("staff token refused", extra={"reason": refusal.reason})
        raise _refused(401, "a valid admin token is required", 'Bearer error="invalid_token"') from None
    except KeysUnavailable:
        raise HTTPException(status_code=503, detail="the identity provider's keys are unavailable") from None
    subject = subject_hash(claims)
    if not roles_in(claims, settings.oidc_role_claim) & set(settings.oidc_roles):
        log.info("staff token without an operator role", extra={"subject": subject})
        raise _refused(403, "this account has no operator role", 'Bearer error="insufficient_scope"')
    log.debug("staff token accepted", extra={"subject": subject})
    return f"staff-{subject}"


Admin = Annotated[None, Depends(require_admin)]
