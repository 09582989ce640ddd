"""The probing layers of a diagnosis: target parsing, hosts file, resolvers, proxy, TCP."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from ..environment.common import hosts_file_path, redact_url
from ..errors import ErrorKind, classify
from ..probes.base import describe
from ..probes.dns import ResolverAnswer, parse_nameserver, resolve_direct, resolve_os
from ..probes.tcp import connect_once
from .findings import HostsFileCheck, ProxyInfo, TcpAttempt

__all__ = [
    "check_hosts_file", "hosts_entries", "hosts_file_path", "parse_target", "proxy_info",
    "tcp_connect",
]

K = ErrorKind
_T = TypeVar("_T")

_DEFAULT_PORTS = {
    "http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "ssh": 22, "smtp": 25,
    "postgres": 5432, "postgresql": 5432, "mysql": 3306, "redis": 6379, "rediss": 6379,
    "mongodb": 27017, "amqp": 5672, "amqps": 5671, "ldap": 389, "ldaps": 636,
}
_SCHEME_FOR_PORT = {80: "http", 443: "https"}


# --------------------------------------------------------------------------- target
def parse_target(target: str) -> tuple[str, int | None]:
    """``"db.internal:5432"`` -> ("db.internal", 5432); also ``[::1]:443``, ``::1``, URLs.

    Raises ValueError for an empty host or a port outside 1..65535.
    """
    host, port, _ = _parse(target)
    return host, port


def _parse(target: str) -> tuple[str, int | None, str | None]:
    text = target.strip()
    scheme: str | None = None
    port: int | None
    if "://" in text:
        parts = urllib.parse.urlsplit(text)
        scheme = parts.scheme.lower()
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS.get(scheme)  # .port raises ValueError if bad
    elif text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad target {target!r}: expected [IPv6]:PORT")
        port = _port(rest[1:], target) if rest else None
    elif text.count(":") > 1:  # bare IPv6, no port
        host, port = text, None
    elif ":" in text:
        host, _, port_text = text.partition(":")
        port = _port(port_text, target)
    else:
        host, port = text, None
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"bad target {target!r}: no host")
    return host, port, scheme


def _port(text: str, target: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad port in {target!r}: expected 1..65535")
    return int(text)


# --------------------------------------------------------------------------- hosts file
def check_hosts_file(name: str, path: str | os.PathLike[str] | None = None) -> HostsFileCheck:
    """Addresses the hosts file gives ``name`` (any alias, case-insensitive); never raises."""
    where = os.fspath(path) if path is not None else hosts_file_path()
    try:
        with open(where, encoding="utf-8-sig", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return HostsFileCheck(where, note="file not found")
    except OSError as exc:
        return HostsFileCheck(where, note=f"unreadable: {describe(exc)}")
    wanted = _norm(name)
    found: dict[str, None] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0]))
        except ValueError:
            continue  # a bad line: ignored, as the OS does
        if any(_norm(alias) == wanted for alias in fields[1:]):
            found[address] = None
    return HostsFileCheck(where, tuple(found))


def hosts_entries(name: str, path: str | os.PathLike[str] | None = None) -> list[str]:
    """Addresses the hosts file gives ``name``; [] when none or the file is unusable."""
    return list(check_hosts_file(name, path).entries)


def _norm(name: str) -> str:
    return name.rstrip(".").casefold()


# --------------------------------------------------------------------------- proxy
def proxy_info(host: str, port: int | None = None, scheme: str | None = None) -> ProxyInfo:
    """Proxy settings (environment, else the system's) as they apply to ``host``."""
    try:
        env = urllib.request.getproxies_environment()
        proxies = env or urllib.request.getproxies()
        hostport = f"{host}:{port}" if port else host
        if env:
            bypass = bool(urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
                hostport, env))
        elif proxies:
            bypass = bool(urllib.request.proxy_bypass(host))
        else:
            bypass = False
    except Exception as exc:  # registry or SystemConfiguration oddities
        return ProxyInfo(note=f"could not read proxy settings: {describe(exc)}")
    no_proxy = proxies.get("no")
    shown = tuple(sorted((k, redact_url(v)) for k, v in proxies.items() if k != "no"))
    scheme = scheme or (_SCHEME_FOR_PORT.get(port) if port else None)
    applies = None
    note = None
    if shown and not bypass:
        url = proxies.get(scheme) if scheme in ("http", "https") else None
        url = url or proxies.get("all")
        applies = redact_url(url) if url else None
        if scheme not in ("http", "https") and applies is None:
            note = "HTTP(S) proxies do not carry raw TCP: applications connect directly"
    return ProxyInfo(shown, no_proxy, bypass, applies, scheme, note)


# --------------------------------------------------------------------------- probes
async def tcp_connect(address: str, port: int, *, timeout: float) -> TcpAttempt:
    """Open and close one TCP connection; the outcome is a finding, never an exception."""
    started = time.perf_counter()
    try:
        latency = await connect_once(address, port, timeout)
    except TimeoutError:
        return TcpAttempt(address, port, False, _ms(started), K.TIMEOUT,
                          f"no answer within {timeout:g} s")
    except Exception as exc:
        return TcpAttempt(address, port, False, _ms(started), classify(exc), describe(exc))
    return TcpAttempt(address, port, True, latency)


def _check_nameserver(text: str) -> None:
    try:
        ip, port = parse_nameserver(text)
        ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"bad nameserver {text!r}: expected IP[:PORT]") from None
    if not 0 < port < 65536:
        raise ValueError(f"bad nameserver {text!r}: port outside 1..65535")


async def _bounded(coro: Awaitable[_T], timeout: float, default: _T) -> _T:
    """``await coro`` within ``timeout``; ``default`` on timeout or any error."""
    try:
        async with asyncio.timeout(timeout):
            result: _T = await coro
            return result
    except Exception:
        return default


async def _os(host: str, port: int | None, timeout: float) -> ResolverAnswer:
    try:
        return await resolve_os(host, port, timeout=timeout)
    except Exception as exc:  # resolve_os reports failures itself; this is a safety net
        return ResolverAnswer("os", False, error_kind=classify(exc), error=describe(exc))


async def _direct(host: str, nameserver: str, label: str, timeout: float) -> ResolverAnswer:
    try:
        async with asyncio.timeout(timeout + 1.0):  # dnspython's lifetime bounds it first
            return await resolve_direct(host, nameserver, timeout=timeout, label=label)
    except Exception as exc:
        kind = K.DNS_TIMEOUT if isinstance(exc, TimeoutError) else classify(exc)
        return ResolverAnswer(label, False, error_kind=kind, error=describe(exc))


def _addresses_to_try(
    os_answer: ResolverAnswer, direct: Sequence[ResolverAnswer],
) -> tuple[list[str], str | None]:
    if os_answer.ok:
        return list(os_answer.addresses), "os"
    answered = [a for a in direct if a.ok]
    found = list(dict.fromkeys(addr for a in answered for addr in a.addresses))
    return found, ", ".join(a.resolver for a in answered) or None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
