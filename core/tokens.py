"""JWT handling that never keeps or shows a raw token: fingerprints, unverified peeks,
and local validation with PyJWT (HS256 secret, or RS256/ES256 keys from a JWKS).

Local validation is strict: an algorithm allow-list that never contains ``none``; the key
type follows the algorithm family (an HS token is checked only against the shared secret,
an RS/ES token only against a JWKS key of that kid), so HS/RS confusion cannot happen;
``exp``/``nbf``/``iat`` are judged on the injected clock with a leeway; ``aud`` and
``iss`` are checked when configured.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jwt

from .clock import Clock, SystemClock
from .errors import ErrorKind, NetmonError

__all__ = [
    "AuthError",
    "AuthReason",
    "JwksCache",
    "LocalValidator",
    "TokenPeek",
    "fingerprint",
    "peek",
]

_log = logging.getLogger("netmon.auth")

_SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
_ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256",
                         "PS384", "PS512", "EdDSA"})


class AuthReason(StrEnum):
    """Why a token was refused (stable strings for CLI, service and console)."""

    MALFORMED = "malformed"
    EXPIRED = "expired"
    NO_EXPIRY = "no_expiry"
    NOT_YET_VALID = "not_yet_valid"
    BAD_SIGNATURE = "bad_signature"
    BAD_ALGORITHM = "bad_algorithm"
    BAD_AUDIENCE = "bad_audience"
    BAD_ISSUER = "bad_issuer"
    NO_KEY = "no_key"
    REVOKED_OR_UNKNOWN = "revoked_or_unknown"
    UNREACHABLE_AND_UNVERIFIABLE = "unreachable_and_unverifiable"


class AuthError(NetmonError):
    """A token was not accepted; ``reason`` says why (never contains the token).
    ``valid_from`` is the wall time after which a ``not_yet_valid`` reason stops holding."""

    kind = ErrorKind.AUTH_FAILED

    def __init__(self, reason: AuthReason, detail: str, *, fingerprint: str | None = None,
                 kind: ErrorKind | None = None, valid_from: datetime | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.fingerprint = fingerprint
        self.valid_from = valid_from
        if kind is not None:
            self.kind = kind


def fingerprint(token: str) -> str:
    """The SHA-256 hex digest of a token: its only identity kept anywhere."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenPeek:
    """Header and claims read WITHOUT verification (for display and routing only)."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def algorithm(self) -> str:
        return str(self.header.get("alg", ""))

    def expires_at(self) -> datetime | None:
        """``exp`` as an aware UTC datetime (None when absent or not a number)."""
        return _timestamp(self.claims.get("exp"))


def _timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def peek(token: str) -> TokenPeek:
    """Header and claims without verifying anything; ``AuthError(malformed)`` if not a JWT."""
    if not token or token.count(".") != 2:
        raise AuthError(AuthReason.MALFORMED, "not a JWT (expected three dot-separated parts)")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise AuthError(AuthReason.MALFORMED, f"cannot decode: {type(exc).__name__}") from None
    if not isinstance(claims, dict):
        raise AuthError(AuthReason.MALFORMED, "claims are not a JSON object")
    return TokenPeek(header, claims)


KeyFetcher = Callable[[], Awaitable[Mapping[str, Any]]]


class JwksCache:
    """A JWKS document fetched on demand, refreshed on an unknown ``kid`` at most once
    per ``min_refresh_s`` (so a flood of forged kids cannot hammer the auth server)."""

    def __init__(self, fetch: KeyFetcher, *, clock: Clock, min_refresh_s: float = 60.0) -> None:
        self._fetch = fetch
        self._clock = clock
        self.min_refresh_s = min_refresh_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_fetch: float | None = None
        self.fetches = 0

    @property
    def kids(self) -> list[str]:
        return sorted(self._keys)

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key for ``kid``, fetching or refreshing the set when allowed."""
        if kid is not None and kid in self._keys:
            return self._keys[kid]
        now = self._clock.monotonic()
        if self._last_fetch is None or now - self._last_fetch >= self.min_refresh_s:
            self._last_fetch = now
            self.fetches += 1
            document = await self._fetch()
            self._keys = _parse_jwks(document)
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid or "")


def _parse_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    raw = document.get("keys")
    if not isinstance(raw, list):
        raise ValueError("JWKS document has no 'keys' list")
    for entry in raw:
        if not isinstance(entry, dict):
            continue
        try:
            key = jwt.PyJWK.from_dict(entry)
        except jwt.PyJWTError as exc:
            _log.warning("RESILIENT: skipping unusable JWKS key %s: %s", entry.get("kid"), exc)
            continue
        keys[str(entry.get("kid", ""))] = key
    return keys


class LocalValidator:
    """Validates tokens without the auth server (for offline operation)."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks: JwksCache | None = None,
        algorithms: list[str] | tuple[str, ...] = ("HS256", "RS256", "ES256"),
        audience: str | None = None,
        issuer: str | None = None,
        leeway_s: float = 30.0,
        require_exp: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self.secret = secret
        self.jwks = jwks
        self.algorithms = frozenset(a for a in algorithms if a.lower() != "none")
        self.audience = audience or None
        self.issuer = issuer or None
        self.leeway_s = leeway_s
        self.require_exp = require_exp
        self.clock: Clock = clock or SystemClock()

    @property
    def can_validate(self) -> bool:
        """Whether any key material is configured."""
        return self.secret is not None or self.jwks is not None

    async def validate(self, token: str, info: TokenPeek | None = None) -> dict[str, Any]:
        """The verified claims, or ``AuthError`` with the precise reason."""
        info = info or peek(token)
        alg = info.algorithm
        if alg not in self.algorithms or alg.lower() == "none":
            raise AuthError(AuthReason.BAD_ALGORITHM,
                            f"algorithm {alg or 'missing'!r} is not allowed "
                            f"(allowed: {', '.join(sorted(self.algorithms))})")
        # Times first: an expired or not-yet-valid token is refused on its face, before any
        # key lookup (no JWKS fetch for it). Acceptance still needs the signature below.
        self.check_times(info.claims)
        key: Any
        if alg in _SYMMETRIC:
            if self.secret is None:
                raise AuthError(AuthReason.NO_KEY, f"{alg} needs the JWT secret, none configured")
            key = self.secret
        elif alg in _ASYMMETRIC:
            if self.jwks is None:
                raise AuthError(AuthReason.NO_KEY, f"{alg} needs a JWKS, none configured")
            kid = info.header.get("kid")
            try:
                jwk = await self.jwks.key(kid if isinstance(kid, str) else None)
            except Exception as exc:
                raise AuthError(AuthReason.NO_KEY, f"cannot fetch the JWKS: {exc}") from exc
            if jwk is None:
                raise AuthError(AuthReason.NO_KEY, f"no JWKS key with kid {kid!r}")
            if jwk.algorithm_name not in (alg, None):
                raise AuthError(AuthReason.BAD_ALGORITHM,
                                f"key {kid!r} is for {jwk.algorithm_name}, token says {alg}")
            key = jwk.key
        else:
            raise AuthError(AuthReason.BAD_ALGORITHM, f"unknown algorithm {alg!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": self.audience is not None,
                         "verify_iss": self.issuer is not None},
            )
        except jwt.InvalidAudienceError:
            raise AuthError(AuthReason.BAD_AUDIENCE, f"audience is not {self.audience!r}") from None
        except jwt.InvalidIssuerError:
            raise AuthError(AuthReason.BAD_ISSUER, f"issuer is not {self.issuer!r}") from None
        except jwt.InvalidSignatureError:
            raise AuthError(AuthReason.BAD_SIGNATURE, "signature does not verify") from None
        except (jwt.InvalidAlgorithmError, jwt.InvalidKeyError) as exc:
            raise AuthError(AuthReason.BAD_ALGORITHM, str(exc)) from None
        except jwt.PyJWTError as exc:
            raise AuthError(AuthReason.MALFORMED, f"{type(exc).__name__}: {exc}") from None
        return claims

    def check_time_claims(self, claims: Mapping[str, Any]) -> None:
        """``exp``, ``nbf`` and ``iat`` are finite numbers when present, and ``exp`` is
        present unless tokens without expiry are allowed (no clock involved)."""
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, int | float)):
                raise AuthError(AuthReason.MALFORMED, f"claim {name} is not a number")
            if isinstance(value, float) and not math.isfinite(value):
                raise AuthError(AuthReason.MALFORMED, f"claim {name} is not a finite number")
        if self.require_exp and claims.get("exp") is None:
            raise AuthError(AuthReason.NO_EXPIRY, "the token has no exp claim (set [auth] "
                            "allow_tokens_without_exp = true to accept such tokens)")

    def check_times(self, claims: Mapping[str, Any], *, leeway_s: float | None = None) -> None:
        """``exp``, ``nbf`` and ``iat`` against the injected clock, with leeway."""
        self.check_time_claims(claims)
        leeway = self.leeway_s if leeway_s is None else leeway_s
        now = self.clock.now().timestamp()
        # numbers or None from here on (check_time_claims)
        exp: float | None = claims.get("exp")
        nbf: float | None = claims.get("nbf")
        iat: float | None = claims.get("iat")
        if exp is not None and now > exp + leeway:
            raise AuthError(AuthReason.EXPIRED, f"expired at {_iso(exp)}")
        if nbf is not None and now < nbf - leeway:
            detail = f"not valid before {_iso(nbf)}"
        elif iat is not None and now < iat - leeway:
            detail = f"issued in the future ({_iso(iat)})"
        else:
            return
        start = max(v for v in (nbf, iat) if v is not None)  # refused until both have passed
        raise AuthError(AuthReason.NOT_YET_VALID, detail, valid_from=_timestamp(start - leeway))

def _iso(value: float) -> str:
    when = _timestamp(value)
    return when.isoformat().replace("+00:00", "Z") if when else str(value)
