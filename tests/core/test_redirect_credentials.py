"""Credential headers never follow a redirect to another origin (real loopback servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.config import Target
from core.probes import ProbeContext, make_probe
from core.secrets import store_secret
from tests.support.http_server import HttpServer, Request, Response


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext(default_timeout_s=2.0)
    yield context
    await context.aclose()


def _recorder(seen: list[Request]) -> object:
    def health(request: Request) -> Response:
        seen.append(request)
        return Response(200, {"version": "v2", "name": "GoTrue"})
    return health


async def test_apikey_is_not_sent_to_another_origin_on_redirect(ctx: ProbeContext) -> None:
    store_secret("netmon/supabase", "anon-key-123")
    async with HttpServer() as first, HttpServer() as second:
        seen: list[Request] = []
        second.route("/auth/v1/health", handler=_recorder(seen))  # type: ignore[arg-type]
        first.route("/auth/v1/health", 302,
                    headers={"Location": second.url_for("/auth/v1/health")})
        target = Target(name="auth", kind="supabase", url=first.url, follow_redirects=True,
                        apikey_keyring="netmon/supabase")
        result = await make_probe(target, ctx).run()
    assert result.ok, result.error
    assert result.details["redirects"] == 1
    assert first.requests[0].headers.get("apikey") == "anon-key-123"
    assert len(seen) == 1
    assert "apikey" not in seen[0].headers
    assert "authorization" not in seen[0].headers


async def test_apikey_stays_on_a_same_origin_redirect(ctx: ProbeContext) -> None:
    store_secret("netmon/supabase", "anon-key-123")
    async with HttpServer() as server:
        seen: list[Request] = []
        server.route("/auth/v1/health", 307, headers={"Location": "/moved/auth/v1/health"})
        server.route("/moved/auth/v1/health", handler=_recorder(seen))  # type: ignore[arg-type]
        target = Target(name="auth", kind="supabase", url=server.url, follow_redirects=True,
                        apikey_keyring="netmon/supabase")
        result = await make_probe(target, ctx).run()
    assert result.ok, result.error
    assert [r.headers.get("apikey") for r in seen] == ["anon-key-123"]


async def test_redirect_chain_back_to_the_first_origin_stays_stripped(
    ctx: ProbeContext,
) -> None:
    """Once a credential left for another origin's redirect, it is not re-added."""
    store_secret("netmon/supabase", "anon-key-123")
    async with HttpServer() as first, HttpServer() as second:
        seen: list[Request] = []
        first.route("/auth/v1/health", 302, headers={"Location": second.url_for("/hop")})
        second.route("/hop", 302, headers={"Location": first.url_for("/back")})
        first.route("/back", handler=_recorder(seen))  # type: ignore[arg-type]
        target = Target(name="auth", kind="supabase", url=first.url, follow_redirects=True,
                        apikey_keyring="netmon/supabase")
        result = await make_probe(target, ctx).run()
    assert result.ok, result.error
    assert result.details["redirects"] == 2
    assert "apikey" not in second.requests[0].headers
    assert "apikey" not in seen[0].headers
