"""Staff access tokens from an OpenID Connect issuer (NHS CIS2 or any other; docs/adr/0013).

A token is a JWS-signed JWT checked against the issuer's published keys (JWKS): its size, its
algorithm (an allow-list of public-key algorithms, matching the key's type and curve), the key id,
the signature, `iss`, `aud`, `exp`, `nbf`/`iat` (with a leeway for clock skew) and `sub`. The role
claim is read afterwards by `roles_in`; whether a role suffices is the caller's business.

Keys are fetched over HTTP (httpx), from `oidc_jwks_url` or the `jwks_uri` of the issuer's
`/.well-known/openid-configuration`, kept `oidc_jwks_cache_seconds`, and fetched again when a token
names a key id not among them (the issuer rotated its keys), at most once per
`oidc_jwks_refetch_seconds`, so a flood of tokens with made-up key ids cannot hammer the issuer.
A failed fetch keeps the keys already known.

Nothing here logs or returns a token or a claim: a refusal carries a reason from a fixed list."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.metrics import NoOpMeterProvider

from shared.settings import WebSettings, secure_url

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 256 * 1024  # a discovery document or JWKS larger than this is refused
NO_KEYS_RETRY_SECONDS = 5.0
_KEY_TYPES = {"RS": ("RSA", None), "PS": ("RSA", None), "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384")}
_KEY_TYPES |= {"ES512": ("EC", "P-521"), "EdDSA": ("OKP", None)}

Fetch = Callable[[str], Awaitable[Any]]


class InvalidToken(Exception):
    """The token is not one this service accepts; `reason` is one word from a fixed list, safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(Exception):
    """No keys could be had from the issuer: no token can be checked until it answers."""


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...]
    leeway_seconds: float
    max_token_bytes: int
    cache_seconds: float
    refetch_seconds: float
    timeout_seconds: float

    @classmethod
    def of(cls, settings: WebSettings) -> OidcConfig | None:
        if not settings.oidc_issuer:
            return None
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url,
            algorithms=settings.oidc_algorithms,
            leeway_seconds=settings.oidc_leeway_seconds,
            max_token_bytes=settings.oidc_max_token_bytes,
            cache_seconds=settings.oidc_jwks_cache_seconds,
            refetch_seconds=settings.oidc_jwks_refetch_seconds,
            timeout_seconds=settings.oidc_http_timeout_seconds,
        )


def http_fetcher(timeout_seconds: float, transport: httpx.AsyncBaseTransport | None = None) -> Fetch:
    """GET a JSON document: no redirects, at most MAX_DOCUMENT_BYTES, 2xx only. Each fetch is a
    client span of the current trace (ADR 17)."""

    async def fetch(url: str) -> Any:
        async with httpx.AsyncClient(timeout=timeout_seconds, follow_redirects=False, transport=transport) as client:
            HTTPXClientInstrumentor.instrument_client(client, meter_provider=NoOpMeterProvider())
            async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                response.raise_for_status()
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise ValueError("document too large")
                return json.loads(body)

    return fetch


class JwksCache:
    """The issuer's signing keys by key id, fetched lazily and refreshed as the module docstring says."""

    def __init__(self, config: OidcConfig, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str, dict[str, Any]] = {}
        self._jwks_url = config.jwks_url
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK for `kid` (None: the only signing key, if there is exactly one), else None."""
        # With no keys at all, try again sooner: until the issuer answers, no token can be checked.
        gap = self._config.refetch_seconds if self._keys else min(self._config.refetch_seconds, NO_KEYS_RETRY_SECONDS)
        stale = self._fetched_at is None or self._clock() - self._fetched_at >= self._config.cache_seconds
        if stale or self._find(kid) is None:
            await self._refresh(min_gap=gap)
        if not self._keys:
            raise KeysUnavailable
        return self._find(kid)

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, *, min_gap: float) -> None:
        seen = self._attempted_at
        async with self._lock:
            if self._attempted_at != seen:
                return  # another request fetched while this one waited
            if self._attempted_at is not None and self._clock() - self._attempted_at < min_gap:
                return
            self._attempted_at = self._clock()
            try:
                keys = signing_keys(await self._fetch(await self._jwks_location()))
            except Exception as error:
                log.warning("could not fetch the OIDC issuer's keys", extra={"error": type(error).__name__})
                return
            self._keys = keys
            self._fetched_at = self._clock()

    async def _jwks_location(self) -> str:
        if not self._jwks_url:
            discovery = await self._fetch(self._config.issuer.rstrip("/") + "/.well-known/openid-configuration")
            if not isinstance(discovery, dict) or discovery.get("issuer") != self._config.issuer:
                raise ValueError("the discovery document names another issuer")
            location = discovery.get("jwks_uri")
            if not isinstance(location, str) or not secure_url(location):
                raise ValueError("the discovery document has no https jwks_uri")
            self._jwks_url = location
        return self._jwks_url


def signing_keys(document: Any) -> dict[str, dict[str, Any]]:
    """The signature keys of a JWKS document by key id (keys marked for encryption are left out)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str, dict[str, Any]] = {}
    for number, key in enumerate(document["keys"]):
        if isinstance(key, dict) and key.get("use", "sig") == "sig" and isinstance(key.get("kty"), str):
            kid = key.get("kid")
            keys[kid if isinstance(kid, str) else f"#{number}"] = key
    return keys


def key_fits(algorithm: str, key: dict[str, Any]) -> bool:
    """Whether a JWK may verify `algorithm`: its type and curve match, and its own `alg`, if any, is it."""
    if key.get("alg", algorithm) != algorithm:
        return False
    kty, curve = _KEY_TYPES.get(algorithm, _KEY_TYPES.get(algorithm[:2], ("", None)))
    if key.get("kty") != kty:
        return False
    if kty == "OKP":
        return key.get("crv") in ("Ed25519", "Ed448")
    return curve is None or key.get("crv") == curve


class OidcVerifier:
    def __init__(self, config: OidcConfig, cache: JwksCache) -> None:
        self.config = config
        self.cache = cache

    @classmethod
    def of(cls, settings: WebSettings) -> OidcVerifier | None:
        config = OidcConfig.of(settings)
        if config is None:
            return None
        return cls(config, JwksCache(config, http_fetcher(config.timeout_seconds)))

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if it is valid, else InvalidToken (KeysUnavailable: the issuer is down)."""
        if len(token.encode("utf-8", "surrogatepass")) > self.config.max_token_bytes:
            raise InvalidToken("too_large")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, UnicodeError):
            raise InvalidToken("malformed") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if not isinstance(algorithm, str) or algorithm not in self.config.algorithms:
            raise InvalidToken("algorithm")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed")
        jwk = await self.cache.key(kid)
        if jwk is None:
            raise InvalidToken("unknown_key")
        if not key_fits(algorithm, jwk):
            raise InvalidToken("algorithm")
        return self._decode(token, jwk, algorithm)

    def _decode(self, token: str, jwk: dict[str, Any], algorithm: str) -> dict[str, Any]:
        try:
            key = jwt.PyJWK(jwk, algorithm=algorithm)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"], "enforce_minimum_key_length": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("not_yet_valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("issuer") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("signature") from None
        except jwt.MissingRequiredClaimError:
            raise InvalidToken("missing_claim") from None
        except (jwt.PyJWTError, ValueError, TypeError, UnicodeError):
            raise InvalidToken("malformed") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidToken("missing_claim")
        return claims


def roles_in(claims: dict[str, Any], path: str) -> set[str]:
    """The text values at a dotted claim path: through objects by key and through lists element by
    element, e.g. `roles`, `realm_access.roles` or CIS2's `nhsid_nrbac_roles.activity_codes`."""
    found: list[Any] = [claims]
    for part in path.split("."):
        found = [item.get(part) for item in _flatten(found) if isinstance(item, dict)]
    return {value for value in _flatten(found) if isinstance(value, str)}


def _flatten(values: Iterable[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def subject_hash(claims: dict[str, Any]) -> str:
    """A short one-way tag of the token's subject, for logs: never the subject itself."""
    return hashlib.sha256(str(claims.get("sub", "")).encode("utf-8", "surrogatepass")).hexdigest()[:12]
