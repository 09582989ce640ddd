"""The diagnosis as an ASCII-only terminal report."""

from __future__ import annotations

import re
from collections.abc import Callable

from ..probes.dns import is_ip_literal
from ..render import text_lines
from .findings import DEGRADED, UP, Diagnosis, exit_code
from .verdict import os_error_text

__all__ = ["render_text"]


_HEAD = 18


def _short(text: str | None, limit: int = 70) -> str:
    text = re.sub(r"^\w+: (?=\[Errno )", "", " ".join((text or "").split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mark(ok: bool | None, *, warn: bool = False) -> str:
    return f"{'WARN' if warn else '--' if ok is None else 'ok' if ok else 'FAIL':<5}"


def render_text(d: Diagnosis) -> str:
    """A readable, ASCII-only multi-line report for a terminal."""
    out: list[str] = []
    add = out.append
    port = f":{d.port}" if d.port else ""
    add(f"netmon diagnose {d.host}{port}   (timeout {d.timeout_s:g} s, took "
        f"{d.elapsed_ms:.0f} ms)")
    add("")
    h = d.hosts
    add(f"{'HOSTS FILE':<{_HEAD}}{h.path}")
    if not h.checked:
        add(f"  {_mark(None)} {h.note or 'not checked'}")
    elif h.note:
        add(f"  {_mark(None)} {h.note}")
    elif h.entries:
        add(f"  {_mark(True)} {d.host} -> {', '.join(h.entries)}")
    else:
        add(f"  {_mark(None)} no entry for {d.host}")
    o = d.os_answer
    add(f"{'OS RESOLVER':<{_HEAD}}getaddrinfo")
    if o.ok:
        add(f"  {_mark(True)} {', '.join(o.addresses)}  ({o.latency_ms:.1f} ms)")
    else:
        add(f"  {_mark(False)} {o.error_kind} {os_error_text(o)}  ({o.latency_ms:.1f} ms)")
    add("DIRECT RESOLVERS")
    if not d.direct:
        add(f"  {_mark(None)} none asked" + ("" if not is_ip_literal(d.host)
                                              else " (IP address)"))
    width = max((len(a.resolver) for a in d.direct), default=0)
    for a in d.direct:
        if a.ok:
            ttl = f", ttl {a.ttl}" if a.ttl is not None else ""
            detail = f"{', '.join(a.addresses)}  ({a.latency_ms:.1f} ms{ttl})"
        else:
            why = a.rcode if a.rcode and a.rcode != "NOERROR" else _short(a.error, 60)
            detail = f"{a.error_kind} {why}  ({a.latency_ms:.1f} ms)"
        add(f"  {_mark(a.ok)} {a.resolver:<{width}}  {detail}")
    add(f"{'TCP':<{_HEAD}}" + (f"port {d.port}" if d.port else "no port given")
        + (f" (addresses from {d.tcp_source})" if d.tcp_source else ""))
    if not d.tcp:
        add(f"  {_mark(None)} " + ("not tested: no address to connect to" if d.port
                                     else "give host:port to test"))
    width = max((len(t.address) for t in d.tcp), default=0)
    for t in d.tcp:
        detail = (f"{t.latency_ms:.1f} ms" if t.ok
                  else f"{t.error_kind} {_short(t.error, 60)}  ({t.latency_ms:.1f} ms)")
        add(f"  {_mark(t.ok)} {t.address:<{width}}  {detail}")
    p = d.proxy
    add("PROXY")
    if p.note and not p.proxies:
        add(f"  {_mark(None)} {p.note}")
    elif not p.proxies:
        add(f"  {_mark(None)} no proxy configured")
    for scheme, url in p.proxies:
        add(f"  {_mark(None)} {scheme + '_proxy':<12} {url}")
    if p.no_proxy is not None:
        add(f"  {_mark(None)} {'no_proxy':<12} {p.no_proxy}")
    if p.proxies:
        used = ("bypassed (NO_PROXY)" if p.bypass
                else f"via {p.applies}" if p.applies else (p.note or "direct"))
        add(f"  {_mark(None)} {d.host}: {used}")
    if d.network is not None:
        _render_network(d, add)
    v = d.verdict
    label = {UP: "OK", DEGRADED: "WARNING"}.get(v.status, "CRITICAL")
    add(f"{'VERDICT':<{_HEAD}}{label} (exit {exit_code(d)})  layer={v.layer}  "
        f"kind={v.kind or '-'}")
    add(f"  {_mark(v.status == UP, warn=v.status == DEGRADED)} {v.summary}")
    for note in v.notes:
        add(f"  note: {note}")
    if v.causes:
        add("  Likely causes:")
        out.extend(f"    - {c}" for c in v.causes)
    if v.next_steps:
        add("  Next steps:")
        out.extend(f"    {i}. {s}" for i, s in enumerate(v.next_steps, 1))
    return text_lines(out) + "\n"


def _render_network(d: Diagnosis, add: Callable[[str], None]) -> None:
    n = d.network
    assert n is not None
    route = n.default_route
    add(f"{'NETWORK':<{_HEAD}}" + (f"default route via {route['gateway'] or 'on-link'} on "
                                   f"{route['interface']}" if route else "no default route"))
    width = max((len(c.reach.address) for c in n.checks), default=0)
    for c in n.checks:
        r = c.reach
        detail = (f"{r.latency_ms:.1f} ms" if r.ok and r.latency_ms is not None
                  else f"{r.error_kind} {_short(r.error, 50)}")
        add(f"  {_mark(r.ok)} {c.role:<11} {r.address:<{width}}  {r.method:<7} {detail}")
        if r.note and r.method != "icmp":
            add(f"        ({_short(r.note, 90)})")
    if n.path is not None:
        p = n.path
        add(f"{'PATH':<{_HEAD}}to {p.address} ({p.method}): {p.summary()}")
        for h in p.hops:
            rtt = f"{h.latency_ms:.1f} ms" if h.latency_ms is not None else "-"
            add(f"  {_mark(h.address is not None)} {h.ttl:>2}  {h.address or '*':<{width}}  "
                f"{rtt:<10} loss {h.loss:.0%}")
