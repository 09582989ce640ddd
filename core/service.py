"""The status and recovery HTTP service (extra ``netmon[service]``): FastAPI.

``create_router(core, ...)`` is an ``APIRouter`` a FastAPI backend can mount next to its
own routes; ``create_app(config_or_core, ...)`` is a standalone app that also starts and
stops the core. Endpoints (ARCHITECTURE.md):

    GET  /health                                         none    200 / 503 / 500
    GET  /health/db                                      none    200 / 503 / 500
    GET  /api/v1/system/status/comprehensive             bearer  the snapshot
    GET  /api/v1/system/recovery/suggestions             bearer  {"suggestions": [...]}
    POST /api/v1/system/recovery/circuit-breaker/reset   bearer  ?name= one, else all
    POST /api/v1/system/recovery/auth-cache/clear        bearer  counts cleared
    GET  /metrics                                        none    Prometheus text

Bearer tokens are checked by the core's own auth service; a configured role claim is
required (403 otherwise). Every refusal is logged with its reason and the token's
fingerprint prefix; recovery calls, refused or not, are audited with origin ``remote`` and
the caller's subject: ``sub`` or ``email`` of a verified token, else ``sha256:<prefix>``
of the token (never the token; a refused token's claims are not trusted).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint annotations at
# runtime, and they name dependencies defined inside create_router.
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ErrorKind, http_status_for
from .gc_settle import freeze_startup_objects
from .metrics import CONTENT_TYPE, CoreMetrics
from .recovery import Origin
from .runtime import NetmonCore
from .tokens import AuthError, AuthReason, fingerprint

__all__ = ["Caller", "create_app", "create_router"]

API = "/api/v1/system"

_log = logging.getLogger("netmon.service")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who called a protected endpoint (from the verified token)."""

    subject: str | None
    role: str | None


def _unauthorized(detail: str, error: str = "invalid_token",
                  description: str | None = None) -> HTTPException:
    challenge = f'Bearer realm="netmon", error="{error}"'
    if description:
        challenge += f', error_description="{description}"'
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


class _RefusedError(Exception):
    """A protected call refused: the HTTP answer, why, and who to audit."""

    def __init__(self, http: HTTPException, reason: str, subject: str | None) -> None:
        super().__init__(reason)
        self.http = http
        self.reason = reason
        self.subject = subject


def create_router(core: NetmonCore, *, required_role: str | None = "service_role",
                  role_claim: str = "role", metrics: CoreMetrics | None = None) -> APIRouter:
    """The netmon endpoints over ``core`` (which the caller starts and stops)."""
    router = APIRouter()
    bearer = HTTPBearer(auto_error=False)
    exposition = metrics or CoreMetrics(core)

    async def verify(credentials: HTTPAuthorizationCredentials | None) -> Caller:
        """The caller, or ``_RefusedError`` with the HTTP answer, reason and audit subject."""
        if credentials is None or not credentials.credentials:
            raise _RefusedError(HTTPException(401, detail="a bearer token is required",
                                         headers={"WWW-Authenticate": 'Bearer realm="netmon"'}),
                           "no bearer token", None)
        token_id = f"sha256:{fingerprint(credentials.credentials)[:12]}"
        if core.auth is None:
            raise _RefusedError(_unauthorized("bearer authentication is not configured on this "
                                         "server"), "no auth configured", token_id)
        try:
            result = await core.auth.verify(credentials.credentials)
        except AuthError as exc:
            if exc.reason is AuthReason.UNREACHABLE_AND_UNVERIFIABLE:
                raise _RefusedError(HTTPException(503, detail="cannot verify the token now: "
                                             f"{exc.detail}", headers={"Retry-After": "30"}),
                               str(exc.reason), token_id) from None
            raise _RefusedError(_unauthorized(f"token refused: {exc.reason}",
                                         description=str(exc.reason)),
                           str(exc.reason), token_id) from None
        claims = result.claims
        subject = claims.get("sub") or claims.get("email")
        who = str(subject) if subject else token_id
        role = claims.get(role_claim)
        if required_role and role != required_role:
            raise _RefusedError(HTTPException(403, detail=f"the token's {role_claim!r} claim must "
                                         f"be {required_role!r}"),
                           f"{role_claim} claim is not {required_role!r}", who)
        return Caller(who, str(role) if role is not None else None)

    def guard(action: str | None) -> Callable[..., Awaitable[Caller]]:
        """A dependency: the verified caller; refusals are logged, and audited as
        ``action`` when it is a recovery action."""

        async def caller(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> Caller:
            try:
                return await verify(credentials)
            except _RefusedError as refused:
                answer = f"HTTP {refused.http.status_code}: {refused.reason}"
                _log.warning("RESILIENT: refused %s from %s: %s", action or "status call",
                             refused.subject or "an anonymous caller", answer)
                if action is not None:
                    await core.recovery.audit_refused(action, origin=Origin.REMOTE,
                                                      subject=refused.subject, reason=answer)
                raise refused.http from None

        return caller

    Authorized = Annotated[Caller, Depends(guard(None))]  # noqa: N806 - type aliases
    ResetCaller = Annotated[Caller, Depends(guard("reset_breaker"))]  # noqa: N806
    ClearCaller = Annotated[Caller, Depends(guard("clear_auth_cache"))]  # noqa: N806

    @router.get("/health", tags=["health"])
    async def health() -> JSONResponse:
        """Overall health: 200 healthy or degraded, 503 unhealthy (network), 500 otherwise."""
        snapshot = core.status()
        body = {"status": snapshot["status"], "generated_at": snapshot["generated_at"],
                "checks": snapshot["targets"], "conditions": snapshot["conditions"],
                "suggestions": snapshot["suggestions"]}
        return JSONResponse(body, status_code=snapshot["http_status"])

    @router.get("/health/db", tags=["health"])
    async def health_db() -> JSONResponse:
        """The database layer: probe, breaker and pool figures."""
        if core.database is None:
            raise HTTPException(404, detail="no database layer configured ([database] target)")
        figures = core.database.health()
        state = core.monitor.states.get(core.config.database.target)
        body: dict[str, Any] = {
            **figures,
            "breaker": core.breakers["database"].stats().as_dict(),
            "probe": state.as_dict(core.clock.monotonic()) if state is not None else None,
        }
        code = 200
        if figures.get("status") == "unknown":  # not started, or still connecting
            code = 503
        elif figures.get("status") == "down":
            kind = figures.get("last_error_kind") or figures.get("error_kind")
            try:
                code = http_status_for(ErrorKind(kind)) if kind else 503
            except ValueError:
                code = 500
        return JSONResponse(body, status_code=code)

    @router.get(f"{API}/status/comprehensive", tags=["status"])
    async def comprehensive(who: Authorized) -> dict[str, Any]:
        """The full status snapshot."""
        return core.status()

    @router.get(f"{API}/recovery/suggestions", tags=["recovery"])
    async def suggestions(who: Authorized) -> dict[str, Any]:
        """What an operator should look at and do."""
        return {"suggestions": core.status()["suggestions"]}

    @router.post(f"{API}/recovery/circuit-breaker/reset", tags=["recovery"])
    async def reset_breaker(
        who: ResetCaller, name: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Reset every breaker, or the one named; returns the states before and after."""
        try:
            return await core.recovery.run("reset_breaker", target=name, origin=Origin.REMOTE,
                                           subject=who.subject)
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc.args[0])) from None

    @router.post(f"{API}/recovery/auth-cache/clear", tags=["recovery"])
    async def clear_auth_cache(who: ClearCaller) -> dict[str, Any]:
        """Forget cached and failed tokens; returns the counts cleared."""
        return await core.recovery.run("clear_auth_cache", origin=Origin.REMOTE,
                                       subject=who.subject)

    @router.get("/metrics", tags=["metrics"])
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(exposition.render(), media_type=CONTENT_TYPE)

    return router


def create_app(core: NetmonCore, *, required_role: str | None = "service_role",
               role_claim: str = "role", manage_core: bool = True) -> FastAPI:
    """A standalone app serving the router; starts and stops ``core`` with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_core:
            await core.start()
            freeze_startup_objects()
        try:
            yield
        finally:
            if manage_core:
                await core.stop()

    app = FastAPI(title="netmon", summary="Status and recovery of a service's dependencies",
                  lifespan=lifespan)
    app.include_router(create_router(core, required_role=required_role, role_claim=role_claim))
    return app

