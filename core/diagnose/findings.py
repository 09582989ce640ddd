"""What a diagnosis found: one frozen dataclass per layer, and the ``Diagnosis`` itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..errors import ErrorKind
from ..probes.base import iso_utc
from ..probes.dns import ResolverAnswer

if TYPE_CHECKING:
    from .network import NetworkCheck

__all__ = [
    "DEGRADED", "DOWN", "UP", "Diagnosis", "HostsFileCheck", "ProxyInfo", "TcpAttempt",
    "Verdict", "exit_code",
]

K = ErrorKind

#: Target status, as in ARCHITECTURE.md: ``up`` (exit 0), ``degraded`` (1), ``down`` (2).
UP, DEGRADED, DOWN = "up", "degraded", "down"

@dataclass(frozen=True, slots=True)
class HostsFileCheck:
    """Hosts file entries for the name; ``note`` says why the file could not be used."""

    path: str = ""
    entries: tuple[str, ...] = ()
    note: str | None = None
    checked: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"path": self.path, "entries": list(self.entries), "note": self.note,
                "checked": self.checked}


@dataclass(frozen=True, slots=True)
class TcpAttempt:
    """One TCP connect to one address."""

    address: str
    port: int
    ok: bool
    latency_ms: float
    error_kind: ErrorKind | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"address": self.address, "port": self.port, "ok": self.ok,
                "latency_ms": round(self.latency_ms, 3),
                "error_kind": str(self.error_kind) if self.error_kind else None,
                "error": self.error}


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    """Proxy settings that apply to this machine, with credentials redacted.

    ``proxies`` maps scheme to (redacted) proxy URL; ``applies`` is the proxy HTTP(S)
    traffic to the target would use (None when bypassed, none set, or raw TCP).
    """

    proxies: tuple[tuple[str, str], ...] = ()
    no_proxy: str | None = None
    bypass: bool = False
    applies: str | None = None
    scheme: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"proxies": dict(self.proxies), "no_proxy": self.no_proxy,
                "bypass": self.bypass, "applies": self.applies, "scheme": self.scheme,
                "note": self.note}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Which layer fails and why; ``status`` is ``up``, ``degraded`` or ``down``."""

    layer: str
    kind: ErrorKind | None
    status: str
    summary: str
    causes: tuple[str, ...] = ()
    next_steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"layer": self.layer, "kind": str(self.kind) if self.kind else None,
                "status": self.status, "summary": self.summary, "causes": list(self.causes),
                "next_steps": list(self.next_steps), "notes": list(self.notes)}


@dataclass(frozen=True)
class Diagnosis:
    """Everything found about one target, and the verdict drawn from it."""

    target: str
    host: str
    port: int | None
    os_answer: ResolverAnswer
    verdict: Verdict
    hosts: HostsFileCheck = field(default_factory=HostsFileCheck)
    direct: tuple[ResolverAnswer, ...] = ()
    tcp: tuple[TcpAttempt, ...] = ()
    tcp_source: str | None = None
    proxy: ProxyInfo = field(default_factory=ProxyInfo)
    timeout_s: float = 3.0
    elapsed_ms: float = 0.0
    checked_at: datetime | None = None
    network: NetworkCheck | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (ErrorKinds as strings)."""
        return {
            "target": self.target, "host": self.host, "port": self.port,
            "status": self.verdict.status, "exit_code": exit_code(self),
            "hosts_file": self.hosts.as_dict(), "os_resolver": self.os_answer.as_dict(),
            "direct_resolvers": [a.as_dict() for a in self.direct],
            "tcp": [t.as_dict() for t in self.tcp], "tcp_source": self.tcp_source,
            "proxy": self.proxy.as_dict(), "verdict": self.verdict.as_dict(),
            "timeout_s": self.timeout_s, "elapsed_ms": round(self.elapsed_ms, 3),
            "checked_at": iso_utc(self.checked_at) if self.checked_at else None,
            "network": self.network.as_dict() if self.network else None,
        }

    def render_text(self) -> str:
        """A readable, ASCII-only multi-line report for a terminal."""
        from .rendering import render_text  # rendering imports this module

        return render_text(self)


def exit_code(diagnosis: Diagnosis) -> int:
    """Monitoring-plugin exit code: 0 reachable, 1 degraded, 2 unreachable."""
    return {UP: 0, DEGRADED: 1}.get(diagnosis.verdict.status, 2)
