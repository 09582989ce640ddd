"""ResilientAuthService: verify bearer tokens so a backend keeps serving through an outage.

Order of work for ``verify(token)``:

1. peek at the token (malformed, ``alg: none``, no ``exp`` unless allowed, or a NaN or
   infinite time claim is refused at once, no network);
2. a known-bad fingerprint (negative cache, ``failed_token_ttl_s``) is refused at once;
3. a cached verification (``token_ttl_s``, never past ``exp``) is a hit;
4. otherwise the auth server (``GET {url}/auth/v1/user``) is asked through a breaker and
   the ``auth`` retry strategy; a refusal goes to the negative cache;
5. when the server is unreachable (a network error kind, an open breaker or a 5xx), a
   token that is cached (even past the TTL, never past ``exp``) or that validates locally
   is accepted with ``source="offline"``; otherwise it is refused with the reason.

Without an auth server URL, tokens are validated locally (``source="local"``). Raw tokens
are never stored: entries are keyed by the SHA-256 fingerprint.
"""

from __future__ import annotations

import logging
import random
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, NoReturn

import httpx

from .breaker import CircuitBreaker
from .clock import Clock, SystemClock
from .config import AuthSettings
from .errors import ErrorKind, classify
from .events import Event
from .probes.base import iso_utc
from .retry import Retrier, strategy
from .tokens import AuthError, AuthReason, JwksCache, LocalValidator, TokenPeek, peek
from .tokens import fingerprint as token_fingerprint

__all__ = ["AuthResult", "AuthSource", "CacheEvent", "ResilientAuthService", "inspect_token"]

_log = logging.getLogger("netmon.auth")
_PREFIX_LEN = 12  # hex digits of the fingerprint shown to people


class AuthSource(StrEnum):
    """Where a verification came from."""

    REMOTE = "remote"
    CACHE = "cache"
    LOCAL = "local"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """An accepted token: its claims, where the verdict came from, and its expiry."""

    claims: Mapping[str, Any]
    source: AuthSource
    expires_at: datetime | None
    fingerprint: str


@dataclass(frozen=True, slots=True)
class CacheEvent:
    """A cache change for the console (fingerprint prefix only)."""

    fingerprint: str
    action: str  # cached | evicted | failed
    detail: str


@dataclass
class _Entry:
    claims: Mapping[str, Any]
    source: AuthSource
    expires_at: datetime | None
    fresh_until: float  # monotonic: a plain cache hit until then
    cached_at: datetime
    hits: int = 0


@dataclass
class _Failure:
    reason: AuthReason
    detail: str
    until: float
    attempts: int = 1


@dataclass
class _Counters:
    hits: int = 0
    misses: int = 0
    remote: int = 0
    local: int = 0
    offline: int = 0
    refused: int = 0
    evicted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("hits", "misses", "remote", "local", "offline",
                                              "refused", "evicted")}


class _UnreachableError(Exception):
    """The auth server could not give a verdict (network, breaker, 5xx)."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass
class ResilientAuthService:
    """Token verification with a positive and a negative cache, local validation and
    offline operation. Construct with ``ResilientAuthService.from_settings(...)``."""

    settings: AuthSettings
    validator: LocalValidator
    clock: Clock = field(default_factory=SystemClock)
    http: httpx.AsyncClient | None = None
    apikey: str | None = None
    breaker: CircuitBreaker | None = None
    retrier: Retrier | None = None
    cached: Event[CacheEvent] = field(default_factory=lambda: Event("auth.cached"))
    evicted: Event[CacheEvent] = field(default_factory=lambda: Event("auth.evicted"))
    failed: Event[CacheEvent] = field(default_factory=lambda: Event("auth.failed"))
    _cache: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _failed: OrderedDict[str, _Failure] = field(default_factory=OrderedDict)
    _counters: _Counters = field(default_factory=_Counters)

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, *, clock: Clock | None = None,
        rng: random.Random | None = None, http: httpx.AsyncClient | None = None,
        breaker: CircuitBreaker | None = None,
    ) -> ResilientAuthService:
        """Wire the service from config: keys from keyring/env, JWKS from the auth server."""
        clock = clock or SystemClock()
        url = settings.supabase_url.rstrip("/")
        if url and http is None:
            http = httpx.AsyncClient(timeout=5.0, trust_env=True)
        jwks = None
        if url and http is not None and any(not a.startswith("HS") for a in settings.algorithms):
            client = http

            async def fetch_jwks() -> Mapping[str, Any]:
                response = await client.get(f"{url}/auth/v1/.well-known/jwks.json")
                response.raise_for_status()
                data = response.json()
                if not isinstance(data, dict):
                    raise ValueError("JWKS is not a JSON object")
                return data

            jwks = JwksCache(fetch_jwks, clock=clock)
        validator = LocalValidator(
            secret=settings.jwt_secret.get(), jwks=jwks, algorithms=settings.algorithms,
            audience=settings.audience or None, issuer=settings.issuer or None,
            leeway_s=settings.leeway_s, require_exp=not settings.allow_tokens_without_exp,
            clock=clock,
        )
        breaker = breaker or CircuitBreaker("auth", clock=clock)
        retrier = Retrier(strategy("auth"), clock=clock, rng=rng)
        return cls(settings=settings, validator=validator, clock=clock, http=http,
                   apikey=settings.apikey.get(), breaker=breaker, retrier=retrier)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self.http is not None:
            await self.http.aclose()

    # --- verification ------------------------------------------------------------------
    async def verify(self, token: str) -> AuthResult:
        """Accept ``token`` (claims and source) or raise ``AuthError`` with the reason."""
        fp = token_fingerprint(token)
        try:
            info = peek(token)
            if info.algorithm.lower() == "none" or info.algorithm not in self.validator.algorithms:
                raise AuthError(AuthReason.BAD_ALGORITHM,
                                f"algorithm {info.algorithm or 'missing'!r} is not allowed")
            self.validator.check_time_claims(info.claims)  # no exp, NaN: refused, no network
        except AuthError as exc:
            self._refuse(fp, exc)
        failure = self._failed.get(fp)
        now = self.clock.monotonic()
        if failure is not None:
            if failure.until > now:
                failure.attempts += 1
                self._counters.refused += 1
                raise AuthError(failure.reason, f"{failure.detail} (refused again, seen "
                                f"{failure.attempts} times)", fingerprint=fp[:_PREFIX_LEN])
            del self._failed[fp]
        entry = self._cache.get(fp)
        if entry is not None and entry.fresh_until > now and not self._past_exp(entry):
            entry.hits += 1
            self._counters.hits += 1
            self._cache.move_to_end(fp)
            return AuthResult(entry.claims, AuthSource.CACHE, entry.expires_at, fp)
        self._counters.misses += 1
        if not self.settings.supabase_url or self.http is None:
            return await self._local(token, fp, info, AuthSource.LOCAL)
        try:
            claims = await self._remote(token, info)
        except _UnreachableError as down:
            return await self._offline(token, fp, info, down)
        except AuthError as exc:
            self._refuse(fp, exc)
        self._counters.remote += 1
        return self._store(fp, claims, AuthSource.REMOTE, info)

    async def _remote(self, token: str, info: TokenPeek) -> Mapping[str, Any]:
        assert self.http is not None
        url = self.settings.supabase_url.rstrip("/") + "/auth/v1/user"
        headers = {"Authorization": f"Bearer {token}"}
        if self.apikey:
            headers["apikey"] = self.apikey
        client = self.http

        async def ask() -> httpx.Response:
            response = await client.get(url, headers=headers)
            if response.status_code >= 500:
                response.raise_for_status()
            return response

        async def ask_with_retries() -> httpx.Response:
            return await (self.retrier.call(ask) if self.retrier else ask())

        try:  # the breaker judges the whole retried call: one verify is one outcome
            response = await (self.breaker.call(ask_with_retries) if self.breaker
                              else ask_with_retries())
        except Exception as exc:  # network, TLS, protocol, 5xx, open breaker: no verdict
            kind = classify(exc)
            raise _UnreachableError(kind, f"auth server unreachable ({kind})") from None
        if response.status_code in (401, 403):
            local = _expired_locally(self.validator, info)
            raise AuthError(local.reason if local else AuthReason.REVOKED_OR_UNKNOWN,
                            f"auth server refused the token (HTTP {response.status_code})",
                            valid_from=local.valid_from if local else None)
        if response.status_code != 200:
            raise _UnreachableError(ErrorKind.PROTOCOL_ERROR,
                               f"auth server answered HTTP {response.status_code}")
        try:
            user = response.json()
        except ValueError:
            raise _UnreachableError(ErrorKind.PROTOCOL_ERROR,
                               "auth server answer is not JSON") from None
        claims = dict(info.claims)
        if isinstance(user, dict):
            for key in ("email", "role"):
                if user.get(key) is not None:
                    claims.setdefault(key, user[key])
        return claims

    async def _local(self, token: str, fp: str, info: TokenPeek,
                     source: AuthSource) -> AuthResult:
        try:
            claims = await self.validator.validate(token, info)
        except AuthError as exc:
            self._refuse(fp, exc)
        if source is AuthSource.OFFLINE:
            self._counters.offline += 1
        else:
            self._counters.local += 1
        return self._store(fp, claims, source, info)

    async def _offline(self, token: str, fp: str, info: TokenPeek,
                       down: _UnreachableError) -> AuthResult:
        entry = self._cache.get(fp)  # read again: the cache may have been cleared meanwhile
        if entry is not None and not self._past_exp(entry):
            entry.hits += 1
            self._counters.offline += 1
            _log.info("RESILIENT: auth server unreachable; accepted cached token %s offline",
                      fp[:_PREFIX_LEN])
            return AuthResult(entry.claims, AuthSource.OFFLINE, entry.expires_at, fp)
        if self.validator.can_validate:
            try:
                claims = await self.validator.validate(token, info)
            except AuthError as exc:
                if exc.reason is not AuthReason.NO_KEY:
                    self._refuse(fp, exc)
            else:
                self._counters.offline += 1
                _log.info("RESILIENT: auth server unreachable; token %s validated locally",
                          fp[:_PREFIX_LEN])
                return self._store(fp, claims, AuthSource.OFFLINE, info)
        self._counters.refused += 1
        raise AuthError(AuthReason.UNREACHABLE_AND_UNVERIFIABLE,
                        f"{down} and the token is neither cached nor locally verifiable",
                        fingerprint=fp[:_PREFIX_LEN], kind=down.kind)

    # --- caches ------------------------------------------------------------------------
    def _store(self, fp: str, claims: Mapping[str, Any], source: AuthSource,
               info: TokenPeek) -> AuthResult:
        expires_at = info.expires_at()
        entry = _Entry(claims=dict(claims), source=source, expires_at=expires_at,
                       fresh_until=self.clock.monotonic() + self.settings.token_ttl_s,
                       cached_at=self.clock.now())
        self._cache[fp] = entry
        self._cache.move_to_end(fp)
        self.cached.emit(CacheEvent(fp[:_PREFIX_LEN], "cached", str(source)))
        while len(self._cache) > self.settings.cache_size:
            old, _ = self._cache.popitem(last=False)
            self._counters.evicted += 1
            self.evicted.emit(CacheEvent(old[:_PREFIX_LEN], "evicted", "cache full"))
        return AuthResult(entry.claims, source, expires_at, fp)

    def _refuse(self, fp: str, exc: AuthError) -> NoReturn:
        """Remember a bad token and raise its error."""
        self._counters.refused += 1
        self._cache.pop(fp, None)
        ttl = self.settings.failed_token_ttl_s
        if exc.valid_from is not None:  # not yet valid: refused only while that holds
            ttl = min(ttl, max(0.0, (exc.valid_from - self.clock.now()).total_seconds()))
        until = self.clock.monotonic() + ttl
        self._failed[fp] = _Failure(exc.reason, exc.detail, until)
        self._failed.move_to_end(fp)
        while len(self._failed) > self.settings.cache_size:
            self._failed.popitem(last=False)
        self.failed.emit(CacheEvent(fp[:_PREFIX_LEN], "failed", str(exc.reason)))
        exc.fingerprint = fp[:_PREFIX_LEN]
        raise exc

    def _past_exp(self, entry: _Entry) -> bool:
        return entry.expires_at is not None and entry.expires_at <= self.clock.now()

    # --- console and recovery ----------------------------------------------------------
    def clear_cache(self) -> dict[str, int]:
        """Forget cached and failed tokens; returns how many of each were removed."""
        cleared = {"cached": len(self._cache), "failed": len(self._failed)}
        self._cache.clear()
        self._failed.clear()
        _log.info("RESILIENT: auth cache cleared (%d cached, %d failed)", cleared["cached"],
                  cleared["failed"])
        return cleared

    def entries(self) -> list[dict[str, Any]]:
        """Cached tokens for display: fingerprint prefix and claims, never the token."""
        now = self.clock.monotonic()
        wall = self.clock.now()
        out = []
        for fp, e in reversed(self._cache.items()):
            out.append({
                "fingerprint": fp[:_PREFIX_LEN],
                "subject": e.claims.get("sub"),
                "email": e.claims.get("email"),
                "role": e.claims.get("role"),
                "issuer": e.claims.get("iss"),
                "expires_at": iso_utc(e.expires_at) if e.expires_at else None,
                "source": str(e.source),
                "age_s": round((wall - e.cached_at).total_seconds(), 1),
                "fresh": e.fresh_until > now and not self._past_exp(e),
                "hits": e.hits,
            })
        return out

    def failed_entries(self) -> list[dict[str, Any]]:
        """Refused tokens for display: fingerprint prefix, reason, attempts."""
        return [{"fingerprint": fp[:_PREFIX_LEN], "reason": str(f.reason), "detail": f.detail,
                 "attempts": f.attempts} for fp, f in reversed(self._failed.items())]

    def stats(self) -> dict[str, Any]:
        """The ``auth`` part of the status snapshot."""
        counters = self._counters.as_dict()
        return {
            "cached_tokens": len(self._cache),
            "failed_tokens": len(self._failed),
            "failed_attempts": sum(f.attempts for f in self._failed.values()),
            **counters,
            "offline_validations": counters["offline"],
            "breaker": str(self.breaker.state) if self.breaker else None,
        }


def _expired_locally(validator: LocalValidator, info: TokenPeek) -> AuthError | None:
    """Name 'expired' / 'not yet valid' when the claims say so (the server already judged
    the signature; no leeway, since it refused)."""
    try:
        validator.check_times(info.claims, leeway_s=0)
    except AuthError as exc:
        return exc
    return None


async def inspect_token(token: str, service: ResilientAuthService | None) -> dict[str, Any]:
    """What a person may see of ``token``: its fingerprint, header and claims, and the
    verdict of ``service`` (the same checks as a real call, so a valid token is cached).

    Never contains the token. With no service (``[auth]`` not configured) the verdict says
    it could not be checked rather than guessing.
    """
    report: dict[str, Any] = {"fingerprint": token_fingerprint(token)[:16]}
    try:
        info = peek(token)
    except AuthError as exc:
        report.update(header=None, claims=None,
                      verdict={"valid": False, "reason": str(exc.reason), "detail": exc.detail})
        return report
    report.update(header=dict(info.header), claims=dict(info.claims))
    if service is None:
        report["verdict"] = {"valid": False, "reason": "not_checked",
                             "detail": "no auth service configured ([auth] names no server "
                                       "or secret): the signature cannot be checked"}
        return report
    try:
        result = await service.verify(token)
    except AuthError as exc:
        report["verdict"] = {"valid": False, "reason": str(exc.reason), "detail": exc.detail}
    else:
        report["verdict"] = {"valid": True, "source": str(result.source), "reason": None,
                             "expires_at": iso_utc(result.expires_at) if result.expires_at
                             else None}
    return report
