"""The "local network down" judgement, on evidence only: what a probe result says about
whether anything answered (a DNS rcode, a refusal, an HTTP status, a TLS handshake: the
path works; unreachable or timed out: silence), and whether the silence is machine-wide."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from .config import Target
from .endpoints import endpoint
from .errors import ErrorKind
from .probes.base import ProbeResult
from .target_state import TargetState

__all__ = ["Evidence", "evidence", "judge_local_network", "server_of"]


def judge_local_network(unpaused: Sequence[TargetState], *, canaries: bool
                        ) -> tuple[bool, str]:
    """(whether the local network is down, why) from the last results of the targets not
    paused: every watched one (the canaries, if any) silent across at least two hosts, or
    the OS saying it has no route; never while any server answered."""
    answering = [s.name for s in unpaused if evidence(s.last) is Evidence.ANSWERED]
    if answering:
        return False, f"{', '.join(answering[:3])} answer{'s' if len(answering) == 1 else ''}"
    watched = [s for s in unpaused if s.target.canary] if canaries else unpaused
    if not watched or not all(evidence(s.last) is Evidence.SILENT for s in watched):
        return False, "not every target is silent"
    hosts = {server_of(s.target) for s in watched}
    no_route = [s.name for s in watched if s.last is not None
                and s.last.error_kind is ErrorKind.NETWORK_UNREACHABLE]
    if len(hosts) < 2 and not no_route:
        return False, "only one host is silent"
    what = "canary " if canaries else ""
    names = ", ".join(s.name for s in watched[:5]) + (" ..." if len(watched) > 5 else "")
    detail = (f"{what}{names}: no answer from {len(hosts)} host"
              f"{'s' if len(hosts) != 1 else ''} (unreachable or timed out)")
    if no_route:
        detail += f"; no route to the network of {', '.join(no_route[:3])}"
    return True, detail


class Evidence(StrEnum):
    """What one result says about the path to its server."""

    ANSWERED = "answered"  # some server answered: the path works
    SILENT = "silent"      # nothing answered: unreachable or timed out
    UNCLEAR = "unclear"    # e.g. the OS resolver's "not found" (no network can give it too)


#: Connect-level failures: nothing answered.
_SILENT_KINDS = frozenset({ErrorKind.NETWORK_UNREACHABLE, ErrorKind.HOST_UNREACHABLE,
                           ErrorKind.TIMEOUT, ErrorKind.DNS_TIMEOUT})
#: Failures that do not say whether anything answered.
_UNCLEAR_KINDS = frozenset({ErrorKind.DNS_NOT_FOUND, ErrorKind.DNS_TEMPORARY,
                            ErrorKind.DNS_NO_DATA, ErrorKind.DNS_FAILURE,
                            ErrorKind.CIRCUIT_OPEN, ErrorKind.UNKNOWN})


def evidence(result: ProbeResult | None) -> Evidence:
    if result is None:
        return Evidence.UNCLEAR
    if result.ok or result.degraded:
        return Evidence.ANSWERED
    resolvers = result.details.get("resolvers", ())
    if any(a.get("ok") or a.get("rcode") for a in resolvers):
        return Evidence.ANSWERED  # a DNS server answered, if only with NXDOMAIN or SERVFAIL
    kind = result.error_kind or ErrorKind.UNKNOWN
    if kind in _SILENT_KINDS:
        return Evidence.SILENT
    if kind in _UNCLEAR_KINDS:
        return Evidence.UNCLEAR
    return Evidence.ANSWERED  # refused, reset, TLS, HTTP status, protocol, auth


def server_of(target: Target) -> str:
    """The host a target's probe talks to (a DNS target's nameservers)."""
    if target.kind == "dns":
        return ",".join(sorted(target.nameservers)) or "os-resolver"
    return endpoint(target).host
