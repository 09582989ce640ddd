"""ResilientAuthService against a local Supabase stand-in, on a FakeClock."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace

import jwt
import pytest

from core.auth import AuthSource, CacheEvent, ResilientAuthService, inspect_token
from core.config import AuthSettings
from core.errors import ErrorKind
from core.secrets import store_secret
from core.testing import FakeClock, seeded_rng
from core.tokens import AuthError, AuthReason, fingerprint
from tests.support.http_server import HttpServer
from tests.support.supabase import APIKEY, HS_SECRET, SupabaseFake

R = AuthReason


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def supabase(http_server: HttpServer, clock: FakeClock) -> SupabaseFake:
    return SupabaseFake(http_server, clock)


def settings(url: str = "", **kw: object) -> AuthSettings:
    base = AuthSettings(supabase_url=url, apikey_keyring="netmon/supabase-apikey",
                        jwt_secret_keyring="netmon/jwt-secret", audience="authenticated")
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def service(supabase: SupabaseFake, clock: FakeClock) -> AsyncIterator[ResilientAuthService]:
    store_secret("netmon/supabase-apikey", APIKEY)
    store_secret("netmon/jwt-secret", HS_SECRET)
    svc = ResilientAuthService.from_settings(settings(supabase.url), clock=clock,
                                             rng=seeded_rng())
    yield svc
    await svc.aclose()


async def test_remote_verification_then_cache_hits(
    service: ResilientAuthService, supabase: SupabaseFake
) -> None:
    token = supabase.token("RS256")
    first = await service.verify(token)
    assert first.source is AuthSource.REMOTE
    assert first.claims["email"] == "ada@example.test"
    assert first.fingerprint == fingerprint(token)
    second = await service.verify(token)
    assert second.source is AuthSource.CACHE
    assert supabase.user_calls == 1
    stats = service.stats()
    assert (stats["hits"], stats["misses"], stats["remote"]) == (1, 1, 1)


async def test_cache_ttl_and_token_expiry_on_the_fake_clock(
    service: ResilientAuthService, supabase: SupabaseFake, clock: FakeClock
) -> None:
    token = supabase.token("HS256", exp_in=420)
    await service.verify(token)
    clock.advance(299)
    assert (await service.verify(token)).source is AuthSource.CACHE
    clock.advance(2)  # past the 5-minute TTL: asked again
    assert (await service.verify(token)).source is AuthSource.REMOTE
    assert supabase.user_calls == 2
    short = supabase.token("HS256", exp_in=60)
    await service.verify(short)
    clock.advance(61)  # never cached past exp, even within the TTL
    with pytest.raises(AuthError) as info:
        await service.verify(short)
    assert info.value.reason is R.EXPIRED


async def test_refused_tokens_are_remembered_without_a_network_call(
    service: ResilientAuthService, supabase: SupabaseFake, clock: FakeClock
) -> None:
    token = supabase.token("HS256", jti="revoked-1")
    supabase.revoked.add("revoked-1")
    failures: list[CacheEvent] = []
    service.failed.connect(failures.append)
    with pytest.raises(AuthError) as info:
        await service.verify(token)
    assert info.value.reason is R.REVOKED_OR_UNKNOWN
    for _ in range(3):
        with pytest.raises(AuthError, match="refused again"):
            await service.verify(token)
    assert supabase.user_calls == 1
    assert service.failed_entries()[0]["attempts"] == 4
    assert failures[0].fingerprint == fingerprint(token)[:12]
    clock.advance(301)
    with pytest.raises(AuthError):
        await service.verify(token)
    assert supabase.user_calls == 2


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda s: s.token("HS256", exp_in=-120), R.EXPIRED),
        (lambda s: s.token("RS256", nbf_in=600), R.NOT_YET_VALID),
        (lambda s: s.token("HS256", aud="someone-else"), R.BAD_AUDIENCE),
        (lambda s: s.token("HS256")[:-4] + "AAAA", R.BAD_SIGNATURE),
        (lambda s: jwt.encode({"sub": "x", "aud": "authenticated"}, None, algorithm="none"),
         R.BAD_ALGORITHM),
        (lambda s: "not-a-jwt", R.MALFORMED),
    ],
)
async def test_local_validation_reasons(
    service: ResilientAuthService, supabase: SupabaseFake, make, reason: AuthReason,  # type: ignore[no-untyped-def]
) -> None:
    with pytest.raises(AuthError) as info:
        await service.validator.validate(make(supabase))  # what the offline path runs
    assert info.value.reason is reason
    with pytest.raises(AuthError) as again:
        await service.verify(make(supabase))  # the full path refuses it too
    assert again.value.reason in (reason, R.REVOKED_OR_UNKNOWN)


async def test_hs_rs_confusion_is_refused(
    supabase: SupabaseFake, clock: FakeClock, service: ResilientAuthService
) -> None:
    # An attacker signs HS256 with the server's *public* RSA key as the HMAC secret.
    from cryptography.hazmat.primitives import serialization

    public_pem = supabase.rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64.urlsafe_b64encode(json.dumps(
        {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(
        {"sub": "attacker", "aud": "authenticated",
         "exp": int(clock.now().timestamp()) + 600}).encode()).rstrip(b"=")
    import hashlib
    import hmac

    signing_input = header + b"." + body
    signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    forged = (signing_input + b"." + signature).decode()
    with pytest.raises(AuthError) as info:
        await service.validator.validate(forged)
    assert info.value.reason is R.BAD_SIGNATURE  # checked against the HS secret only


async def test_offline_after_the_server_stops(
    service: ResilientAuthService, supabase: SupabaseFake, http_server: HttpServer,
    clock: FakeClock,
) -> None:
    cached = supabase.token("RS256")
    await service.verify(cached)  # fetches the JWKS too? no: remote only
    never_seen_es = supabase.token("ES256", sub="user-2")
    await service.validator.validate(never_seen_es)  # warms the JWKS cache while online
    never_seen_hs = supabase.token("HS256", sub="user-3")
    expired = supabase.token("HS256", exp_in=-3600)
    await http_server.close()
    clock.advance(301)  # past the TTL: the cached token is not fresh any more
    offline_cached = await service.verify(cached)
    assert offline_cached.source is AuthSource.OFFLINE
    offline_es = await service.verify(never_seen_es)
    assert offline_es.source is AuthSource.OFFLINE
    offline_hs = await service.verify(never_seen_hs)
    assert offline_hs.source is AuthSource.OFFLINE
    with pytest.raises(AuthError) as info:
        await service.verify(expired)
    assert info.value.reason is R.EXPIRED
    assert service.stats()["offline_validations"] == 3


async def test_offline_and_unverifiable_is_refused_with_a_network_kind(
    supabase: SupabaseFake, http_server: HttpServer, clock: FakeClock
) -> None:
    store_secret("netmon/supabase-apikey", APIKEY)
    svc = ResilientAuthService.from_settings(settings(supabase.url, algorithms=["RS256"]),
                                             clock=clock)
    token = supabase.token("RS256")
    await http_server.close()
    with pytest.raises(AuthError) as info:
        await svc.verify(token)
    await svc.aclose()
    assert info.value.reason is R.UNREACHABLE_AND_UNVERIFIABLE
    assert info.value.kind is ErrorKind.CONNECTION_REFUSED


async def test_breaker_opens_and_offline_answers_without_calls(
    service: ResilientAuthService, supabase: SupabaseFake, http_server: HttpServer,
) -> None:
    http_server.fault("/auth/v1/user", "reset")
    for i in range(3):
        result = await service.verify(supabase.token("HS256", sub=f"u{i}"))
        assert result.source is AuthSource.OFFLINE
    assert service.breaker is not None
    assert service.breaker.state == "open"
    calls = len(http_server.requests)
    assert (await service.verify(supabase.token("HS256", sub="u9"))).source is AuthSource.OFFLINE
    assert len(http_server.requests) == calls  # refused by the breaker, no network call


async def test_unknown_kid_refreshes_the_jwks_at_a_bounded_rate(
    service: ResilientAuthService, supabase: SupabaseFake, clock: FakeClock
) -> None:
    assert service.validator.jwks is not None
    await service.validator.validate(supabase.token("RS256"))
    assert supabase.jwks_calls == 1
    forged = jwt.encode({"sub": "x", "aud": "authenticated", "exp": 4_102_444_800},
                        supabase.rsa_key, algorithm="RS256", headers={"kid": "rotated-9"})
    for _ in range(5):
        with pytest.raises(AuthError) as info:
            await service.validator.validate(forged)
        assert info.value.reason is R.NO_KEY
    assert supabase.jwks_calls == 1  # within the refresh interval: no refetch
    clock.advance(61)
    with pytest.raises(AuthError):
        await service.validator.validate(forged)
    assert supabase.jwks_calls == 2


async def test_clear_cache_counts_and_entries_never_hold_the_token(
    service: ResilientAuthService, supabase: SupabaseFake
) -> None:
    good = supabase.token("HS256")
    bad = supabase.token("HS256", exp_in=-600)
    await service.verify(good)
    with pytest.raises(AuthError):
        await service.verify(bad)
    (entry,) = service.entries()
    assert entry["subject"] == "user-1"
    assert entry["email"] == "ada@example.test"
    assert entry["fingerprint"] == fingerprint(good)[:12]
    text = json.dumps([service.entries(), service.failed_entries(), service.stats()])
    assert good not in text
    assert bad not in text
    assert service.clear_cache() == {"cached": 1, "failed": 1}
    assert service.entries() == []


async def test_lru_bound_evicts_oldest(supabase: SupabaseFake, clock: FakeClock) -> None:
    store_secret("netmon/jwt-secret", HS_SECRET)
    svc = ResilientAuthService.from_settings(settings("", cache_size=3), clock=clock)
    evicted: list[CacheEvent] = []
    svc.evicted.connect(evicted.append)
    tokens = [supabase.token("HS256", sub=f"u{i}") for i in range(5)]
    for token in tokens:
        assert (await svc.verify(token)).source is AuthSource.LOCAL
    assert len(svc.entries()) == 3
    assert [e.fingerprint for e in evicted] == [fingerprint(t)[:12] for t in tokens[:2]]


async def test_tls_failure_at_the_auth_server_falls_back_to_local_validation(
    tls_http_server: HttpServer, clock: FakeClock
) -> None:
    fake = SupabaseFake(tls_http_server, clock)  # its certificate is not trusted here
    store_secret("netmon/supabase-apikey", APIKEY)
    store_secret("netmon/jwt-secret", HS_SECRET)
    svc = ResilientAuthService.from_settings(settings(tls_http_server.url), clock=clock)
    try:
        result = await svc.verify(fake.token("HS256"))
    finally:
        await svc.aclose()
    assert result.source is AuthSource.OFFLINE
    assert svc.stats()["offline_validations"] == 1


async def test_a_cache_cleared_during_an_outage_is_not_used(
    service: ResilientAuthService, supabase: SupabaseFake, http_server: HttpServer,
    clock: FakeClock,
) -> None:
    token = supabase.token("RS256")
    await service.verify(token)
    clock.advance(301)
    gate = asyncio.Event()

    async def stalled(request):  # type: ignore[no-untyped-def]
        await gate.wait()
        from tests.support.http_server import Response

        return Response(503, {"message": "down"})

    http_server.route("/auth/v1/user", handler=stalled)
    http_server.route("/auth/v1/.well-known/jwks.json", status=503, body="down")
    pending = asyncio.create_task(service.verify(token))
    await asyncio.sleep(0.05)
    assert service.clear_cache()["cached"] == 1
    gate.set()
    with pytest.raises(AuthError) as info:
        await pending
    assert info.value.reason is R.UNREACHABLE_AND_UNVERIFIABLE


async def test_one_verify_is_one_breaker_outcome(
    service: ResilientAuthService, supabase: SupabaseFake, http_server: HttpServer,
) -> None:
    http_server.fault("/auth/v1/user", "reset")
    await service.verify(supabase.token("HS256"))  # offline after its retries
    assert service.breaker is not None
    assert service.breaker.stats().failures == 1
    assert service.breaker.state == "closed"


async def test_inspect_without_an_auth_service_says_not_checked() -> None:
    token = jwt.encode({"sub": "u1", "exp": 4102444800}, "any-secret-0123456789abcdef0123456",
                       algorithm="HS256")
    report = await inspect_token(token, None)
    assert report["claims"]["sub"] == "u1"
    assert report["verdict"]["valid"] is False
    assert report["verdict"]["reason"] == "not_checked"
    assert token not in json.dumps(report)
    assert report["fingerprint"] == fingerprint(token)[:16]
