"""A made-up OIDC issuer for tests of staff sign-in (shared.web.oidc): freshly generated RSA and EC
keys, their JWKS and discovery document, and tokens, valid or broken on purpose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "hlm360-operators"
ROLE = "hlm360-operator"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(public_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.algorithms.RSAAlgorithm if alg.startswith("RS") else jwt.algorithms.ECAlgorithm
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(public_key))
    return {**jwk, "kid": kid, "use": "sig", "alg": alg}


class TestIssuer:
    __test__ = False  # not a test class, for pytest

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.keys: dict[str, tuple[Any, str]] = {}  # kid -> (private key, algorithm)
        self.published: list[str] = []  # kids in the JWKS
        self.add_key("rsa-1", "RS256")
        self.add_key("ec-1", "ES256")

    def add_key(self, kid: str, alg: str, *, publish: bool = True) -> None:
        if alg.startswith("RS"):
            private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            private = ec.generate_private_key(ec.SECP256R1())
        self.keys[kid] = (private, alg)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_jwk(self.keys[kid][0].public_key(), kid, self.keys[kid][1]) for kid in self.published]}

    def discovery(self, jwks_uri: str) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": ["RS256"]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "sub": f"staff-{uuid.uuid4().hex}",
            "iat": now,
            "exp": now + 300,
            "roles": [ROLE],
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def token(self, kid: str = "rsa-1", **overrides: Any) -> str:
        private, alg = self.keys[kid]
        return jwt.encode(self.claims(**overrides), private, algorithm=alg, headers={"kid": kid})

    def public_pem(self, kid: str = "rsa-1") -> bytes:
        public = self.keys[kid][0].public_key()
        return bytes(public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def unsigned(self, kid: str = "rsa-1", **overrides: Any) -> str:
        """`alg: none`: no signature at all."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(**overrides)).encode())}."

    def hmac_with_public_key(self, kid: str = "rsa-1", **overrides: Any) -> str:
        """The algorithm-confusion attack: HS256 keyed with the issuer's (public) key."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        signing_input = f"{header}.{_b64(json.dumps(self.claims(**overrides)).encode())}"
        signature = hmac.new(self.public_pem(kid), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"
