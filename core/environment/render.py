"""The environment report as ASCII-only text for a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..render import text_lines

if TYPE_CHECKING:
    from . import EnvironmentReport

__all__ = ["render_text"]

_HEAD = 18


def render_text(report: EnvironmentReport) -> str:
    """Sections: adapters, routes, DNS, NRPT, proxies, hosts file, preference, time,
    conditions."""
    env = report.environment
    out: list[str] = []
    add = out.append
    add(f"netmon env   ({env.platform}, read {env.read_at:%Y-%m-%d %H:%M:%S} UTC)")
    add("")
    add("ADAPTERS")
    for a in env.adapters:
        state = "up" if a.up else "down" if a.up is False else "?"
        metric = f" metric {a.metric}" if a.metric is not None else ""
        add(f"  {a.name:<16} {state:<5}{metric}  {', '.join(a.addresses) or '-'}")
        if a.gateways or a.dns_servers or a.dns_suffix:
            add(f"  {'':<16} gateway {', '.join(a.gateways) or '-'}  dns "
                f"{', '.join(a.dns_servers) or '-'}" + (f"  suffix {a.dns_suffix}"
                                                       if a.dns_suffix else ""))
    default = env.default_route
    add(f"{'DEFAULT ROUTE':<{_HEAD}}" + (f"via {default.gateway or 'on-link'} on "
                                          f"{default.interface} (metric {default.metric})"
                                          if default else "none"))
    for route in env.default_routes:
        if route != default:
            add(f"  also {route.family} via {route.gateway or 'on-link'} on {route.interface} "
                f"(metric {route.metric})")
    add(f"{'DNS':<{_HEAD}}{', '.join(env.dns_servers) or 'no server'}  ({env.dns_source})")
    if env.search_domains:
        add(f"  search  {' '.join(env.search_domains)}")
    if env.resolver_options:
        add(f"  options {' '.join(env.resolver_options)}")
    for rule in env.nrpt_rules:
        add(f"  NRPT    {', '.join(rule.namespaces)} -> {', '.join(rule.servers) or '-'} "
            f"({rule.source})")
    add("PROXIES")
    if not env.proxies:
        add("  none configured")
    for p in env.proxies:
        parts = [f"{k}={v}" for k, v in p.servers] or ["direct"]
        if p.auto_config_url:
            parts.append(f"pac={p.auto_config_url}")
        if p.auto_detect:
            parts.append("auto-detect (WPAD)")
        if p.bypass:
            parts.append(f"bypass={';'.join(p.bypass)}")
        add(f"  {p.source:<12} {'  '.join(parts)}")
    add(f"{'HOSTS FILE':<{_HEAD}}{env.hosts_path} ({len(env.hosts_entries)} entries)")
    for e in env.hosts_entries[:20]:
        add(f"  {e.address:<16} {' '.join(e.names)}")
    if len(env.hosts_entries) > 20:
        add(f"  ... {len(env.hosts_entries) - 20} more (--json lists all)")
    add(f"{'PREFERENCE':<{_HEAD}}{env.preference} ({env.preference_source})")
    add(f"{'TIME SERVERS':<{_HEAD}}" + (f"{', '.join(env.time_servers)}  ({env.time_source})"
                                         if env.time_servers else "none configured"))
    if report.clock is not None:
        t = report.clock
        if t.offset_s is not None:
            add(f"{'CLOCK':<{_HEAD}}offset {t.offset_s:+.3f} s against {t.server} "
                f"({t.method}, round trip {t.round_trip_ms or 0:.1f} ms)")
        else:
            add(f"{'CLOCK':<{_HEAD}}not checked: "
                + (f"{t.server}: {t.error}" if t.server else str(t.error)))
    if report.probed:
        add("REACHABILITY")
        for check in report.checks:
            r = check.reach
            result = (f"ok {r.latency_ms:.1f} ms" if r.ok and r.latency_ms is not None
                      else f"FAIL {r.error_kind}")
            add(f"  {check.role:<12} {r.address:<16} {r.method:<7} {result}")
    for note in env.notes:
        add(f"  note: {note}")
    add("CONDITIONS")
    if not report.conditions:
        add("  none found" + ("" if report.probed else " (add --probe to check reachability)"))
    for c in report.conditions:
        add(f"  {c.severity.upper():<9}{c.title}: {c.detail}")
        add(f"  {'':<9}-> {c.suggestion}")
    return text_lines(out)
