"""Refused recovery calls are logged and audited; token fingerprints stand in for a
missing subject (the real service app under uvicorn, over real HTTP)."""

from __future__ import annotations

import logging

import httpx
import jwt
import pytest

from core.tokens import fingerprint
from tests.core.test_service import API, Served, served  # noqa: F401 - the fixture
from tests.support.secrets_watch import watch
from tests.support.supabase import HS_SECRET


def anonymous_token(role: str = "service_role") -> str:
    """A valid token with neither ``sub`` nor ``email``."""
    return watch(jwt.encode({"role": role, "aud": "authenticated", "exp": 4_102_444_800},
                            HS_SECRET, algorithm="HS256"))


async def test_refused_recovery_calls_are_logged_and_audited(
    served: Served, caplog: pytest.LogCaptureFixture,  # noqa: F811
) -> None:
    forged = watch(jwt.encode({"sub": "admin", "role": "service_role", "aud": "authenticated",
                               "exp": 4_102_444_800}, "not-the-secret-0123456789abcdef0123",
                              algorithm="HS256"))
    weak = served.token(role="authenticated", sub="ops-7")
    caplog.set_level(logging.INFO, logger="netmon")
    async with httpx.AsyncClient(base_url=served.url) as client:
        none = await client.post(f"{API}/recovery/auth-cache/clear")
        bad = await client.post(f"{API}/recovery/circuit-breaker/reset",
                                headers={"Authorization": f"Bearer {forged}"})
        role = await client.post(f"{API}/recovery/auth-cache/clear",
                                 headers={"Authorization": f"Bearer {weak}"})
    assert (none.status_code, bad.status_code, role.status_code) == (401, 401, 403)
    trail = [e.as_dict() for e in served.core.recovery.trail]
    assert [(e["action"], e["origin"], e["subject"], e["ok"]) for e in trail] == [
        ("clear_auth_cache", "remote", None, False),
        # a refused token's claims are not trusted: its fingerprint, never "admin"
        ("reset_breaker", "remote", f"sha256:{fingerprint(forged)[:12]}", False),
        ("clear_auth_cache", "remote", "ops-7", False)]
    assert [e["detail"]["refused"] for e in trail] == [
        "HTTP 401: no bearer token", "HTTP 401: bad_signature",
        "HTTP 403: role claim is not 'service_role'"]
    assert served.core.history is not None
    assert len(await served.core.history.audit()) == 3
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("bad_signature" in m and fingerprint(forged)[:12] in m for m in refusals)
    assert any("HTTP 403" in m for m in refusals)
    assert all(forged not in r.getMessage() for r in caplog.records)


async def test_accepted_call_without_sub_or_email_is_audited_by_fingerprint(
    served: Served,  # noqa: F811
) -> None:
    token = anonymous_token()
    async with httpx.AsyncClient(base_url=served.url) as client:
        ok = await client.post(f"{API}/recovery/auth-cache/clear",
                               headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    [entry] = served.core.recovery.trail
    assert (entry.subject, entry.ok) == (f"sha256:{fingerprint(token)[:12]}", True)
