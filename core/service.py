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
required (403 otherwise). Recovery calls are audited with origin ``remote`` and the
caller's subject.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the endpoint annotations at
# runtime, and they name dependencies defined inside create_router.
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .errors import ErrorKind, http_status_for
from .metrics import CONTENT_TYPE, CoreMetrics
from .recovery import Origin
from .runtime import NetmonCore
from .tokens import AuthError, AuthReason

__all__ = ["Caller", "create_app", "create_router"]

API = "/api/v1/system"


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


def create_router(core: NetmonCore, *, required_role: str | None = "service_role",
                  role_claim: str = "role", metrics: CoreMetrics | None = None) -> APIRouter:
    """The netmon endpoints over ``core`` (which the caller starts and stops)."""
    router = APIRouter()
    bearer = HTTPBearer(auto_error=False)
    exposition = metrics or CoreMetrics(core)

    async def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        if credentials is None or not credentials.credentials:
            raise HTTPException(401, detail="a bearer token is required",
                                headers={"WWW-Authenticate": 'Bearer realm="netmon"'})
        if core.auth is None:
            raise _unauthorized("bearer authentication is not configured on this server")
        try:
            result = await core.auth.verify(credentials.credentials)
        except AuthError as exc:
            if exc.reason is AuthReason.UNREACHABLE_AND_UNVERIFIABLE:
                raise HTTPException(503, detail=f"cannot verify the token now: {exc.detail}",
                                    headers={"Retry-After": "30"}) from None
            raise _unauthorized(f"token refused: {exc.reason}", description=str(exc.reason)
                                ) from None
        claims = result.claims
        role = claims.get(role_claim)
        if required_role and role != required_role:
            raise HTTPException(403, detail=f"the token's {role_claim!r} claim must be "
                                f"{required_role!r}")
        subject = claims.get("sub") or claims.get("email")
        return Caller(str(subject) if subject is not None else None,
                      str(role) if role is not None else None)

    Authorized = Annotated[Caller, Depends(caller)]  # noqa: N806 - a type alias

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
        who: Authorized, name: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Reset every breaker, or the one named; returns the states before and after."""
        try:
            return await core.recovery.run("reset_breaker", target=name, origin=Origin.REMOTE,
                                           subject=who.subject)
        except KeyError as exc:
            raise HTTPException(404, detail=str(exc.args[0])) from None

    @router.post(f"{API}/recovery/auth-cache/clear", tags=["recovery"])
    async def clear_auth_cache(who: Authorized) -> dict[str, Any]:
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
        try:
            yield
        finally:
            if manage_core:
                await core.stop()

    app = FastAPI(title="netmon", summary="Status and recovery of a service's dependencies",
                  lifespan=lifespan)
    app.include_router(create_router(core, required_role=required_role, role_claim=role_claim))
    return app

