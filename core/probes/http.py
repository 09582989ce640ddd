"""HTTP probe over httpx clients (one per target, see ``ProbeContext.http_client``): phase
timings from httpcore's trace events (dns, connect, tls, ttfb, total), which both the
probes' own transport (``http_transport.ProbeTransport``) and httpx's proxy transports
emit, expected status, body substring, TLS certificate days left, and the proxy taken
from the environment.
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from ..config import Target
from ..errors import ErrorKind, kind_for_http_status
from .base import PhaseTimer, ProbeContext, ProbeResult, TargetProbe, failure
from .dns import ResolutionError, is_ip_literal, resolve_os
from .redirects import send_following

__all__ = ["HttpExchange", "HttpProbe", "fetch"]

MAX_BODY = 1_000_000  # bytes read for body checks; the rest is not downloaded


@dataclass
class HttpExchange:
    """What one GET/HEAD produced: status, capped body, phases, TLS and proxy facts."""

    status: int
    body: bytes
    headers: httpx.Headers
    phases: dict[str, float]
    http_version: str
    final_url: str
    tls_days_left: float | None = None
    proxy: str | None = None
    redirects: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class _Trace:
    """Collects httpcore-named trace events (from ``ProbeTransport`` or httpcore) as
    perf_counter timestamps."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}
        self.ssl_object: ssl.SSLObject | None = None

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        step = ".".join(name.rsplit(".", 2)[-2:])  # "connect_tcp.started"
        marks = self.marks
        if (step == "connect_tcp.started" and "send_request_headers.started" in marks
                and "receive_response_headers.complete" not in marks):
            # a request sent on a reused connection that failed, now sent again on a new
            # one: the answer is timed from the new send
            del marks["send_request_headers.started"]
        marks.setdefault(step, time.perf_counter())
        if step == "start_tls.complete":
            stream = info.get("return_value")
            if stream is not None:
                self.ssl_object = stream.get_extra_info("ssl_object")

    def span(self, start: str, end: str) -> float | None:
        if start in self.marks and end in self.marks:
            return (self.marks[end] - self.marks[start]) * 1000
        return None


@functools.lru_cache(maxsize=4096)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed once: httpx parses a string URL in pure Python on every request
    (``build_request`` 82-86 us with a string, 39-40 us with a parsed URL, measured);
    an ``httpx.URL`` is immutable, so one serves every request to it."""
    return httpx.URL(url)


def _days_left(ssl_object: ssl.SSLObject | None, now: datetime) -> float | None:
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


async def fetch(
    context: ProbeContext, target: Target, url: str, *, headers: dict[str, str] | None = None,
    timeout: float, read_body: bool = False,
) -> HttpExchange:
    """One request with phase timings; raises httpx/OS errors for the caller to classify.

    The clock starts after the shared client exists: building it is setup, not the
    probe's work."""
    client = await context.http_client(verify=target.verify_tls, ca_file=target.ca_file or None,
                                       owner=target.name)
    timer = PhaseTimer()
    parts = urlsplit(url)
    host = parts.hostname or ""
    proxy = context.proxy_for(url)
    if proxy is None and not is_ip_literal(host):
        answer = await resolve_os(host, parts.port, timeout=timeout)
        if not answer.ok:
            raise ResolutionError(answer)
    timer.lap("dns")
    trace = _Trace()
    request = client.build_request(
        target.method, _parsed(url), headers=headers,
        extensions={"trace": trace, "timeout": httpx.Timeout(timeout).as_dict()},
    )
    sent = time.perf_counter()
    response, redirects = await send_following(client, request, follow=target.follow_redirects)
    try:
        body = b""
        if (read_body or target.body_contains) and target.method != "HEAD":
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= MAX_BODY:
                    break
        elif target.method != "HEAD":
            async for _ in response.aiter_raw():  # drain so the connection can be reused
                if response.num_bytes_downloaded >= MAX_BODY:
                    break
    finally:
        await response.aclose()
    phases = {"dns": timer.phases["dns"]}
    for name, start, end in (("connect", "connect_tcp.started", "connect_tcp.complete"),
                             ("tls", "start_tls.started", "start_tls.complete")):
        span = trace.span(start, end)
        if span is not None:
            phases[name] = span
    headers_done = trace.marks.get("receive_response_headers.complete")
    request_sent = trace.marks.get("send_request_headers.started", sent)
    if headers_done is not None:
        phases["ttfb"] = (headers_done - request_sent) * 1000
    phases["total"] = timer.total_ms()
    return HttpExchange(
        status=response.status_code, body=body, headers=response.headers, phases=phases,
        http_version=response.http_version, final_url=str(response.url),
        tls_days_left=_days_left(trace.ssl_object, context.clock.now()), proxy=proxy,
        redirects=redirects,
    )


class HttpProbe(TargetProbe):
    """GET or HEAD a URL and judge status, body and certificate."""

    async def run(self) -> ProbeResult:
        result, _ = await self.check(self.target.url)
        return result

    async def check(
        self, url: str, headers: dict[str, str] | None = None, *, read_body: bool = False,
    ) -> tuple[ProbeResult, HttpExchange | None]:
        """Probe ``url``; also returns the exchange (the supabase probe reads its body)."""
        target = self.target
        timeout = self.timeout
        # setup, not the probe's work: a failure's latency must not include it either
        await self.context.http_client(verify=target.verify_tls, ca_file=target.ca_file or None,
                                       owner=target.name)
        checked_at = self.context.clock.now()
        timer = PhaseTimer()
        try:
            exchange = await fetch(self.context, target, url, headers=headers, timeout=timeout,
                                   read_body=read_body)
        except Exception as exc:
            return failure(target, exc, checked_at, timer, url=url,
                           proxy=self.context.proxy_for(url)), None
        details: dict[str, Any] = {
            "url": url, "status": exchange.status, "http_version": exchange.http_version,
            "proxy": exchange.proxy, "redirects": exchange.redirects,
        }
        if exchange.final_url != url:
            details["final_url"] = exchange.final_url
        if exchange.tls_days_left is not None:
            details["tls_days_left"] = round(exchange.tls_days_left, 1)
        problem = self._judge(exchange)
        latency = exchange.phases["total"]
        if problem is not None:
            kind, message = problem
            return ProbeResult(target.name, target.kind, False, latency, checked_at,
                               phases=exchange.phases, error_kind=kind, error=message,
                               details=details), exchange
        return ProbeResult(target.name, target.kind, True, latency, checked_at,
                           phases=exchange.phases, details=details), exchange

    def _judge(self, exchange: HttpExchange) -> tuple[ErrorKind, str] | None:
        target = self.target
        status = exchange.status
        expected = target.expect_status
        if (expected and status not in expected) or (not expected and status >= 400):
            kind = kind_for_http_status(status) or ErrorKind.PROTOCOL_ERROR  # unexpected 2xx/3xx
            want = ", ".join(map(str, expected)) if expected else "below 400"
            reason = httpx.codes.get_reason_phrase(status)
            return kind, f"HTTP {status} {reason} (expected {want})".replace("  ", " ")
        if target.body_contains and target.body_contains.encode() not in exchange.body:
            return (ErrorKind.PROTOCOL_ERROR,
                    f"body does not contain {target.body_contains!r}")
        if exchange.tls_days_left is not None and exchange.tls_days_left < 0:
            return ErrorKind.TLS_ERROR, "TLS certificate has expired"
        return None
