"""Supabase auth health probe: ``GET {url}/auth/v1/health`` with the ``apikey`` header."""

from __future__ import annotations

import json
from dataclasses import replace

from ..config import Target
from ..errors import ErrorKind
from ..secrets import SecretError
from .base import ProbeContext, ProbeResult, TargetProbe
from .http import HttpProbe

__all__ = ["SupabaseProbe"]


class SupabaseProbe(TargetProbe):
    """Checks the auth service (GoTrue) is up and reports its version."""

    def __init__(self, target: Target, context: ProbeContext) -> None:
        super().__init__(target, context)
        self._http = HttpProbe(replace(target, method="GET", body_contains=""), context)

    def health_url(self) -> str:
        """The GoTrue health endpoint under the project URL."""
        return self.target.url.rstrip("/") + "/auth/v1/health"

    async def run(self) -> ProbeResult:
        target = self.target
        headers: dict[str, str] = {}
        if target.apikey:
            try:
                headers["apikey"] = target.apikey.require()
            except SecretError as exc:
                return ProbeResult(target.name, target.kind, False, None,
                                   self.context.clock.now(), error_kind=ErrorKind.AUTH_FAILED,
                                   error=str(exc), details={"url": self.health_url()})
        result, exchange = await self._http.check(self.health_url(), headers=headers,
                                                  read_body=True)
        if not result.ok or exchange is None:
            return result
        try:
            info = json.loads(exchange.body)
        except ValueError:
            return replace(result, ok=False, error_kind=ErrorKind.PROTOCOL_ERROR,
                           error="health endpoint did not return JSON")
        if not isinstance(info, dict):
            return replace(result, ok=False, error_kind=ErrorKind.PROTOCOL_ERROR,
                           error="health endpoint returned JSON that is not an object")
        details = {**result.details, "version": info.get("version"), "service": info.get("name")}
        return replace(result, details=details)
