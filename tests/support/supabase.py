"""A local stand-in for Supabase auth (GoTrue) on the loopback HTTP server.

Serves ``/auth/v1/user`` (verifies the bearer token with the test keys, on the test's
clock), ``/auth/v1/health`` and ``/auth/v1/.well-known/jwks.json``; mints tokens signed
with HS256, RS256 and ES256 test keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from core.clock import Clock
from tests.support.http_server import HttpServer, Request, Response
from tests.support.secrets_watch import watch

HS_SECRET = watch("test-jwt-secret-that-is-long-enough-for-hs256-0123456789")
APIKEY = watch("test-anon-apikey")


@dataclass
class SupabaseFake:
    """Keys, token minting and the auth routes, bound to one HttpServer."""

    server: HttpServer
    clock: Clock
    audience: str = "authenticated"
    revoked: set[str] = field(default_factory=set)
    rsa_key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    user_calls: int = 0
    jwks_calls: int = 0

    def __post_init__(self) -> None:
        self.server.route("/auth/v1/user", handler=self._user)
        self.server.route("/auth/v1/health", body={"version": "v2.170.0", "name": "GoTrue"})
        self.server.route("/auth/v1/.well-known/jwks.json", handler=self._jwks)

    @property
    def url(self) -> str:
        return self.server.url

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = RSAAlgorithm.to_jwk(self.rsa_key.public_key(), as_dict=True)
        ec_jwk = ECAlgorithm.to_jwk(self.ec_key.public_key(), as_dict=True)
        return {"keys": [{**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                         {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"}]}

    def token(self, alg: str = "HS256", *, exp_in: float = 3600, nbf_in: float | None = None,
              aud: str | None = None, sub: str = "user-1", email: str = "ada@example.test",
              role: str = "authenticated", **extra: Any) -> str:
        now = self.clock.now().timestamp()
        claims: dict[str, Any] = {"sub": sub, "email": email, "role": role,
                                  "aud": aud or self.audience, "iat": int(now),
                                  "exp": int(now + exp_in), "iss": f"{self.url}/auth/v1",
                                  "jti": uuid.uuid4().hex, **extra}
        if nbf_in is not None:
            claims["nbf"] = int(now + nbf_in)
        if alg == "HS256":
            return watch(jwt.encode(claims, HS_SECRET, algorithm="HS256"))
        if alg == "RS256":
            return watch(jwt.encode(claims, self.rsa_key, algorithm="RS256",
                                    headers={"kid": "rsa-1"}))
        if alg == "ES256":
            return watch(jwt.encode(claims, self.ec_key, algorithm="ES256",
                                    headers={"kid": "ec-1"}))
        raise ValueError(alg)

    def _verify(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg")
            key: Any = {"HS256": HS_SECRET, "RS256": self.rsa_key.public_key(),
                        "ES256": self.ec_key.public_key()}.get(str(alg))
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=[str(alg)],
                                                audience=self.audience,
                                                options={"verify_exp": False,
                                                         "verify_nbf": False,
                                                         "verify_iat": False})
        except jwt.PyJWTError:
            return None
        now = self.clock.now().timestamp()  # the test's clock, like every time check here
        if claims.get("exp", 0) < now or claims.get("nbf", now) > now:
            return None
        if claims.get("jti") in self.revoked:
            return None
        return claims

    def _user(self, request: Request) -> Response:
        self.user_calls += 1
        if request.headers.get("apikey") != APIKEY:
            return Response(401, {"message": "Invalid API key"})
        auth = request.headers.get("authorization", "")
        claims = self._verify(auth.removeprefix("Bearer ").strip())
        if claims is None:
            return Response(401, {"code": 401, "msg": "invalid JWT"})
        return Response(200, {"id": claims["sub"], "email": claims.get("email"),
                              "role": claims.get("role"), "aud": claims.get("aud")})

    def _jwks(self, request: Request) -> Response:
        self.jwks_calls += 1
        return Response(200, self.jwks())
