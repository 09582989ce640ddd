"""Token refusals cached no longer than they hold; tokens without a finite ``exp``."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import replace

import jwt
import pytest

from core.auth import AuthSource, ResilientAuthService
from core.config import AuthSettings, parse_config
from core.secrets import store_secret
from core.testing import FakeClock, seeded_rng
from core.tokens import AuthError, AuthReason
from tests.support.http_server import HttpServer
from tests.support.secrets_watch import watch
from tests.support.supabase import APIKEY, HS_SECRET, SupabaseFake

R = AuthReason


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def settings(url: str = "", **kw: object) -> AuthSettings:
    base = AuthSettings(supabase_url=url, apikey_keyring="netmon/supabase-apikey",
                        jwt_secret_keyring="netmon/jwt-secret", audience="authenticated")
    return replace(base, **kw)  # type: ignore[arg-type]


async def make(clock: FakeClock, url: str = "", **kw: object) -> ResilientAuthService:
    store_secret("netmon/supabase-apikey", APIKEY)
    store_secret("netmon/jwt-secret", HS_SECRET)
    return ResilientAuthService.from_settings(settings(url, **kw), clock=clock,
                                              rng=seeded_rng())


@pytest.fixture
async def local(clock: FakeClock) -> AsyncIterator[ResilientAuthService]:
    service = await make(clock)
    yield service
    await service.aclose()


def hs_token(clock: FakeClock, **claims: object) -> str:
    base: dict[str, object] = {"sub": "user-1", "aud": "authenticated",
                               "iat": int(clock.now().timestamp())}
    return watch(jwt.encode({**base, **claims}, HS_SECRET, algorithm="HS256"))


# --- a not-yet-valid refusal lasts only until nbf ------------------------------------------
async def test_not_yet_valid_refusal_expires_when_the_token_becomes_valid_remote(
    http_server: HttpServer, clock: FakeClock,
) -> None:
    fake = SupabaseFake(http_server, clock)
    service = await make(clock, fake.url)
    try:
        token = fake.token("HS256", nbf_in=60)
        with pytest.raises(AuthError) as info:
            await service.verify(token)
        assert info.value.reason is R.NOT_YET_VALID
        clock.advance(30)
        with pytest.raises(AuthError, match="refused again"):  # still true: no server call
            await service.verify(token)
        assert fake.user_calls == 1
        clock.advance(31)  # nbf has passed; the 300 s failed-token TTL has not
        result = await service.verify(token)
        assert result.source is AuthSource.REMOTE
        assert fake.user_calls == 2
    finally:
        await service.aclose()


async def test_not_yet_valid_refusal_expires_with_the_leeway_locally(
    local: ResilientAuthService, clock: FakeClock,
) -> None:
    now = int(clock.now().timestamp())
    token = hs_token(clock, nbf=now + 100, exp=now + 3600)  # valid from nbf - 30 s leeway
    with pytest.raises(AuthError) as info:
        await local.verify(token)
    assert info.value.reason is R.NOT_YET_VALID
    clock.advance(69)
    with pytest.raises(AuthError, match="refused again"):
        await local.verify(token)
    clock.advance(2)
    assert (await local.verify(token)).source is AuthSource.LOCAL


async def test_other_refusals_keep_the_full_failed_token_ttl(
    local: ResilientAuthService, clock: FakeClock,
) -> None:
    now = int(clock.now().timestamp())
    token = hs_token(clock, exp=now - 3600)
    with pytest.raises(AuthError):
        await local.verify(token)
    clock.advance(299)
    with pytest.raises(AuthError, match="refused again"):
        await local.verify(token)


# --- exp is required and finite ------------------------------------------------------------
async def test_token_without_exp_is_refused_by_default(
    local: ResilientAuthService, clock: FakeClock,
) -> None:
    with pytest.raises(AuthError) as info:
        await local.verify(hs_token(clock))
    assert info.value.reason is R.NO_EXPIRY


async def test_token_without_exp_is_refused_before_asking_the_server(
    http_server: HttpServer, clock: FakeClock,
) -> None:
    fake = SupabaseFake(http_server, clock)
    service = await make(clock, fake.url)
    try:
        with pytest.raises(AuthError) as info:
            await service.verify(hs_token(clock))
        assert info.value.reason is R.NO_EXPIRY
        assert fake.user_calls == 0
    finally:
        await service.aclose()


@pytest.mark.parametrize("exp", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("allow", [False, True])
async def test_non_finite_exp_is_always_refused(clock: FakeClock, exp: float,
                                                allow: bool) -> None:
    service = await make(clock, allow_tokens_without_exp=allow)
    try:
        with pytest.raises(AuthError) as info:
            await service.verify(hs_token(clock, exp=exp))
        assert info.value.reason is R.MALFORMED
        assert "finite" in info.value.detail
    finally:
        await service.aclose()


async def test_tokens_without_exp_can_be_allowed(clock: FakeClock) -> None:
    service = await make(clock, allow_tokens_without_exp=True)
    try:
        assert (await service.verify(hs_token(clock))).source is AuthSource.LOCAL
    finally:
        await service.aclose()


def test_the_setting_is_read_and_validated() -> None:
    assert parse_config("").auth.allow_tokens_without_exp is False
    on = parse_config("[auth]\nallow_tokens_without_exp = true\n")
    assert on.auth.allow_tokens_without_exp is True
    with pytest.raises(Exception, match="allow_tokens_without_exp"):
        parse_config('[auth]\nallow_tokens_without_exp = "yes"\n')
