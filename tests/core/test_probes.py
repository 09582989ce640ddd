"""Every probe against real loopback servers: DNS, TCP, HTTP(S), PostgreSQL, Supabase."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from core.config import Target
from core.errors import ErrorKind
from core.probes import ProbeContext, make_probe
from core.secrets import store_secret
from tests.support.dns_server import DnsServer
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer
from tests.support.postgres import PostgresCluster

K = ErrorKind


@pytest.fixture
async def ctx() -> AsyncIterator[ProbeContext]:
    context = ProbeContext(default_timeout_s=2.0)
    yield context
    await context.aclose()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- DNS --------------------------------------------------------------------------------
def dns_target(host: str, server: DnsServer, **kw: object) -> Target:
    return Target(name="dns", kind="dns", host=host, nameservers=[f"127.0.0.1:{server.port}"],
                  system_nameservers=False, **kw)  # type: ignore[arg-type]


async def test_dns_resolvers_are_asked_concurrently_and_answers_keep_their_order() -> None:
    """``_concurrently`` (how a DNS probe asks its resolvers) runs them together, as
    ``asyncio.gather`` did: each of these two waits for the other to have started, so
    run one after the other they would never finish."""
    from core.probes.dns import _concurrently

    started = [asyncio.Event(), asyncio.Event(), asyncio.Event()]

    async def resolver(index: int) -> int:
        started[index].set()
        for event in started:
            await event.wait()
        return index

    async with asyncio.timeout(5):
        assert await _concurrently([resolver(0), resolver(1), resolver(2)]) == [0, 1, 2]
    assert await _concurrently([]) == []


async def test_dns_a_resolver_that_raises_cancels_the_others() -> None:
    from core.probes.dns import _concurrently

    cancelled: list[int] = []

    async def waits(index: int) -> int:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(index)
            raise
        return index

    async def fails() -> int:
        await asyncio.sleep(0)
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        await _concurrently([waits(0), waits(1), fails()])
    await asyncio.sleep(0)
    assert sorted(cancelled) == [0, 1]


async def test_dns_os_and_direct_both_answer(ctx: ProbeContext, dns_server: DnsServer) -> None:
    dns_server.add_a("localhost", "127.0.0.1", ttl=42)
    result = await make_probe(dns_target("localhost", dns_server), ctx).run()
    assert result.ok
    assert not result.degraded
    assert "127.0.0.1" in result.details["addresses"]
    os_answer, direct = result.details["resolvers"]
    assert os_answer["resolver"] == "os"
    assert direct["addresses"] == ["127.0.0.1"]
    assert direct["ttl"] == 42
    assert result.phases["dns"] > 0


async def test_dns_only_the_direct_resolver_knows_the_name_is_degraded(
    ctx: ProbeContext, dns_server: DnsServer
) -> None:
    dns_server.add_cname("api.corp.invalid", "lb.corp.invalid")
    dns_server.add_a("lb.corp.invalid", "10.20.30.40", ttl=60)
    result = await make_probe(dns_target("api.corp.invalid", dns_server), ctx).run()
    assert not result.ok
    assert result.degraded
    assert result.error_kind is K.DNS_NOT_FOUND  # what the OS resolver said, for real
    assert "Name or service not known" in (result.error or "")
    direct = result.details["resolvers"][1]
    assert direct["ok"] is True
    assert direct["addresses"] == ["10.20.30.40"]
    assert direct["cnames"] == ["lb.corp.invalid"]
    assert ("api.corp.invalid", "A") in dns_server.queries


@pytest.mark.parametrize(
    ("behaviour", "kind", "rcode"),
    [("nxdomain", K.DNS_NOT_FOUND, "NXDOMAIN"), ("servfail", K.DNS_TEMPORARY, "SERVFAIL"),
     ("nodata", K.DNS_NO_DATA, "NOERROR"), ("silent", K.DNS_TIMEOUT, None)],
)
async def test_dns_direct_failures_are_classified(
    ctx: ProbeContext, dns_server: DnsServer, behaviour: str, kind: ErrorKind, rcode: str | None,
) -> None:
    dns_server.set_behaviour("gone.invalid", behaviour)
    target = dns_target("gone.invalid", dns_server, timeout_s=0.3)
    result = await make_probe(target, ctx).run()
    assert not result.ok
    assert not result.degraded
    direct = result.details["resolvers"][1]
    assert direct["error_kind"] == kind.value
    assert direct["rcode"] == rcode


async def test_dns_listed_nameserver_failing_while_the_os_answers_is_degraded_and_said(
    ctx: ProbeContext, dns_server: DnsServer
) -> None:
    """A nameserver the user listed used to fail silently while the OS resolver answered."""
    dns_server.set_behaviour("localhost", "servfail")
    result = await make_probe(dns_target("localhost", dns_server), ctx).run()
    assert result.ok  # applications resolve it
    assert result.degraded
    assert result.error_kind is K.DNS_TEMPORARY
    assert result.error is not None
    assert result.error.startswith(f"127.0.0.1:{dns_server.port}: ")
    assert result.details["summary"].endswith(f"; 127.0.0.1:{dns_server.port}: SERVFAIL")
    assert result.details["summary"].startswith("OS: ")


async def test_dns_resolver_os_asks_no_nameserver(
    ctx: ProbeContext, dns_server: DnsServer
) -> None:
    dns_server.add_a("localhost", "127.0.0.1")
    result = await make_probe(dns_target("localhost", dns_server, resolver="os"), ctx).run()
    assert result.ok
    assert [r["resolver"] for r in result.details["resolvers"]] == ["os"]
    assert dns_server.queries == []


async def test_dns_resolver_direct_lets_the_nameservers_decide(
    ctx: ProbeContext, dns_server: DnsServer
) -> None:
    dns_server.add_a("api.corp.invalid", "10.20.30.40")
    dns_server.set_behaviour("gone.corp.invalid", "servfail")
    known = await make_probe(dns_target("api.corp.invalid", dns_server, resolver="direct"),
                             ctx).run()
    assert known.ok  # the OS resolver, which does not know the name, was not asked
    assert not known.degraded
    assert [r["resolver"] for r in known.details["resolvers"]] == [
        f"127.0.0.1:{dns_server.port}"]
    assert known.details["addresses"] == ["10.20.30.40"]
    gone = await make_probe(dns_target("gone.corp.invalid", dns_server, resolver="direct"),
                            ctx).run()
    assert not gone.ok
    assert gone.error_kind is K.DNS_TEMPORARY
    assert gone.details["summary"] == f"127.0.0.1:{dns_server.port}: SERVFAIL"


async def test_dns_expected_address_catches_a_hijacked_answer(
    ctx: ProbeContext, dns_server: DnsServer
) -> None:
    """A captive portal or hijacking resolver answers with an address of its own."""
    dns_server.add_a("dns.ncsi.invalid", "10.0.0.1")
    target = dns_target("dns.ncsi.invalid", dns_server, resolver="direct",
                        expect_addresses=["131.107.255.255"])
    hijacked = await make_probe(target, ctx).run()
    assert not hijacked.ok
    assert hijacked.error_kind is K.PROTOCOL_ERROR
    assert hijacked.error == (f"127.0.0.1:{dns_server.port} resolves it to 10.0.0.1, not "
                              "131.107.255.255 (a captive portal or DNS hijack?)")
    dns_server.add_a("dns.ncsi.invalid", "131.107.255.255")
    honest = await make_probe(target, ctx).run()
    assert honest.ok


async def test_dns_truncated_answer_is_retried_over_tcp(
    ctx: ProbeContext, dns_server: DnsServer
) -> None:
    dns_server.add_a("big.invalid", *[f"10.0.0.{i}" for i in range(1, 40)])
    dns_server.set_behaviour("big.invalid", "truncate")
    result = await make_probe(dns_target("big.invalid", dns_server, record_types=["A"]),
                              ctx).run()
    direct = result.details["resolvers"][1]
    assert direct["ok"] is True
    assert len(direct["addresses"]) == 39
    assert dns_server.tcp_queries


# --- TCP --------------------------------------------------------------------------------
async def test_tcp_connects_and_reports_the_address(
    ctx: ProbeContext, http_server: HttpServer
) -> None:
    port = int(http_server.url.rsplit(":", 1)[1])
    result = await make_probe(Target(name="t", kind="tcp", host="localhost", port=port),
                              ctx).run()
    assert result.ok
    assert result.details["address"] in ("127.0.0.1", "::1")
    assert set(result.phases) == {"dns", "connect"}


async def test_tcp_refused_and_dns_failure(ctx: ProbeContext) -> None:
    refused = await make_probe(
        Target(name="t", kind="tcp", host="127.0.0.1", port=closed_port()), ctx).run()
    assert refused.error_kind is K.CONNECTION_REFUSED
    assert refused.details["failed_addresses"][0]["address"] == "127.0.0.1"
    nxdomain = await make_probe(
        Target(name="t", kind="tcp", host="db.something.invalid", port=5432), ctx).run()
    assert nxdomain.error_kind is K.DNS_NOT_FOUND
    assert nxdomain.details["stage"] == "dns"


async def test_tcp_blackhole_proxy_still_connects_but_refuse_does_not(
    ctx: ProbeContext, http_server: HttpServer, fault_proxy_factory: FaultProxyFactory
) -> None:
    port = int(http_server.url.rsplit(":", 1)[1])
    proxy = await fault_proxy_factory("127.0.0.1", port)
    target = Target(name="t", kind="tcp", host="127.0.0.1", port=proxy.port)
    assert (await make_probe(target, ctx).run()).ok
    await proxy.set_mode("refuse")
    assert (await make_probe(target, ctx).run()).error_kind is K.CONNECTION_REFUSED


# --- HTTP -------------------------------------------------------------------------------
def http_target(url: str, **kw: object) -> Target:
    return Target(name="web", kind="http", url=url, **kw)  # type: ignore[arg-type]


async def test_http_ok_with_phases(ctx: ProbeContext, http_server: HttpServer) -> None:
    http_server.route("/health", body={"status": "ok"})
    url = http_server.url.replace("127.0.0.1", "localhost") + "/health"
    result = await make_probe(http_target(url, body_contains='"ok"'), ctx).run()
    assert result.ok, result.error
    assert result.details["status"] == 200
    assert {"dns", "connect", "ttfb", "total"} <= set(result.phases)
    assert result.phases["total"] >= result.phases["ttfb"]
    assert result.details["proxy"] is None


async def test_http_latency_excludes_building_the_client(
    http_server: HttpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first probe used to include loading the CA store (~100 ms here, seconds on a
    slow Windows desktop) in its latency, on the event loop. Make that load take 0.5 s."""
    http_server.route("/", body="ok")
    real = ssl.create_default_context

    def slow_trust_store(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", slow_trust_store)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    context = ProbeContext(default_timeout_s=5.0)
    beat = asyncio.create_task(heartbeat())
    try:
        result = await make_probe(Target(name="web", kind="http", url=http_server.url + "/"),
                                  context).run()
    finally:
        beat.cancel()
        await context.aclose()
    assert result.ok
    assert result.latency_ms is not None
    assert result.latency_ms < 400  # a loopback GET; the 500 ms of setup is not in it
    assert result.phases["total"] == result.latency_ms
    assert ticks >= 10  # the loop kept running while the trust store loaded


async def test_first_probes_of_many_http_targets_load_the_trust_store_once(
    http_server: HttpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each target has its own client, and their first probes start together: each used to
    load the CA store itself (~100 ms of CPU each; 250 targets in a probe worker kept every
    core busy for many seconds after start). One load per ``ca_file``, shared."""
    http_server.route("/", body="ok")
    real = ssl.create_default_context
    loads = 0

    def counting_trust_store(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        nonlocal loads
        loads += 1
        time.sleep(0.05)  # long enough for every first probe to be waiting on it
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting_trust_store)
    context = ProbeContext(default_timeout_s=5.0)
    try:
        results = await asyncio.gather(*(
            make_probe(Target(name=f"web-{i}", kind="http", url=http_server.url + "/"),
                       context).run() for i in range(20)))
    finally:
        await context.aclose()
    assert all(r.ok for r in results)
    assert loads == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(500, K.HTTP_SERVER_ERROR), (503, K.HTTP_SERVER_ERROR), (404, K.HTTP_CLIENT_ERROR),
     (401, K.AUTH_FAILED)],
)
async def test_http_error_statuses(
    ctx: ProbeContext, http_server: HttpServer, status: int, kind: ErrorKind
) -> None:
    http_server.route("/x", status=status, body="nope")
    result = await make_probe(http_target(http_server.url + "/x"), ctx).run()
    assert not result.ok
    assert result.error_kind is kind
    assert f"HTTP {status}" in (result.error or "")


async def test_http_expected_status_and_body(ctx: ProbeContext, http_server: HttpServer) -> None:
    http_server.route("/teapot", status=418, body="short and stout")
    ok = await make_probe(http_target(http_server.url + "/teapot", expect_status=[418]),
                          ctx).run()
    assert ok.ok
    missing = await make_probe(http_target(http_server.url + "/teapot", expect_status=[418],
                                           body_contains="coffee"), ctx).run()
    assert missing.error_kind is K.PROTOCOL_ERROR


async def test_http_slow_reset_and_refused(
    ctx: ProbeContext, http_server: HttpServer
) -> None:
    http_server.route("/slow", body="late", delay=2.0)
    http_server.fault("/reset", "reset")
    slow = await make_probe(http_target(http_server.url + "/slow", timeout_s=0.2), ctx).run()
    assert slow.error_kind is K.TIMEOUT
    reset = await make_probe(http_target(http_server.url + "/reset"), ctx).run()
    assert reset.error_kind is K.CONNECTION_RESET
    refused = await make_probe(http_target(f"http://127.0.0.1:{closed_port()}/"), ctx).run()
    assert refused.error_kind is K.CONNECTION_REFUSED


async def test_http_cookies_a_server_sets_are_sent_on_later_probes(
    ctx: ProbeContext, http_server: HttpServer
) -> None:
    """A cookie set by an answer (or by a redirect hop) goes with the next requests of the
    target's client, as httpx does; answers that set none leave the jar alone."""
    http_server.route("/login", status=302, headers={"Location": "/app",
                                                     "Set-Cookie": "hop=1; Path=/"})
    http_server.route("/app", body="ok", headers={"Set-Cookie": "session=abc; Path=/"})
    http_server.route("/plain", body="ok")
    probe = make_probe(http_target(http_server.url + "/login", follow_redirects=True), ctx)
    assert (await probe.run()).ok
    assert (await probe.run()).ok
    sent = [(r.path, r.headers.get("cookie")) for r in http_server.requests]
    assert sent == [("/login", None), ("/app", "hop=1"),
                    ("/login", "hop=1; session=abc"), ("/app", "hop=1; session=abc")]
    plain = make_probe(Target(name="web", kind="http", url=http_server.url + "/plain",
                              follow_redirects=True), ctx)
    assert (await plain.run()).ok
    assert http_server.requests[-1].headers.get("cookie") == "hop=1; session=abc"


async def test_http_answers_without_set_cookie_skip_the_cookie_jar(
    ctx: ProbeContext, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import http.cookiejar

    handed: list[str] = []
    extract = http.cookiejar.CookieJar.extract_cookies

    def counting(self: http.cookiejar.CookieJar, response: Any, request: Any) -> None:
        handed.append(request.get_full_url())
        extract(self, response, request)

    monkeypatch.setattr(http.cookiejar.CookieJar, "extract_cookies", counting)
    http_server.route("/plain", body="ok")
    http_server.route("/sets", body="ok", headers={"Set-Cookie": "a=1; Path=/"})
    probe = make_probe(http_target(http_server.url + "/plain"), ctx)
    for _ in range(3):
        assert (await probe.run()).ok
    assert handed == []
    assert (await make_probe(http_target(http_server.url + "/sets"), ctx).run()).ok
    assert handed == [http_server.url + "/sets"]


async def test_http_dns_failure_is_reported_as_dns(ctx: ProbeContext) -> None:
    result = await make_probe(http_target("http://api.something.invalid/health"), ctx).run()
    assert result.error_kind is K.DNS_NOT_FOUND
    assert "[Errno -2]" in (result.error or "")


async def test_https_with_private_ca_reports_certificate_days(
    ctx: ProbeContext, tls_http_server: HttpServer
) -> None:
    tls_http_server.route("/", body="secure")
    ca = str(tls_http_server.ca_pem_path)
    trusted = await make_probe(http_target(tls_http_server.url + "/", ca_file=ca), ctx).run()
    assert trusted.ok, trusted.error
    assert "tls" in trusted.phases
    assert trusted.details["tls_days_left"] > 1
    untrusted = await make_probe(http_target(tls_http_server.url + "/"), ctx).run()
    assert untrusted.error_kind is K.TLS_ERROR
    unverified = await make_probe(http_target(tls_http_server.url + "/", verify_tls=False),
                                  ctx).run()
    assert unverified.ok
    assert unverified.details["tls_days_left"] > 1  # read even when not verified


async def test_http_proxy_from_environment_is_honoured_and_reported(
    ctx: ProbeContext, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "proxy" is our own HTTP server: httpx sends it the absolute-form request.
    http_server.route("http://svc.invalid/health", body="via proxy")
    http_server.route("/health", body="direct")
    proxy = http_server.url.replace("http://", "http://user:s3cret@")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = await make_probe(http_target("http://svc.invalid/health"), ctx).run()
    assert result.details["proxy"] is not None
    assert "s3cret" not in result.details["proxy"]
    assert http_server.requests, "the request must have gone through the proxy"


# --- PostgreSQL -------------------------------------------------------------------------
def pg_target(cluster: PostgresCluster, **kw: object) -> Target:
    return Target(name="db", kind="postgres", dsn=cluster.dsn_without_password(),
                  sslmode="disable", password_keyring="netmon/db",
                  **kw)  # type: ignore[arg-type]


async def test_postgres_ok_and_wrong_password(
    ctx: ProbeContext, postgres_cluster: PostgresCluster
) -> None:
    store_secret("netmon/db", postgres_cluster.password)
    result = await make_probe(pg_target(postgres_cluster), ctx).run()
    assert result.ok, result.error
    assert result.details["server_version"].startswith("15")
    assert {"connect", "query"} <= set(result.phases)
    store_secret("netmon/db", "wrong-password")
    bad = await make_probe(pg_target(postgres_cluster), ctx).run()
    assert bad.error_kind is K.AUTH_FAILED
    assert "wrong-password" not in (bad.error or "")


async def test_postgres_behind_a_cut_proxy(
    ctx: ProbeContext, postgres_cluster: PostgresCluster, fault_proxy_factory: FaultProxyFactory
) -> None:
    store_secret("netmon/db", postgres_cluster.password)
    proxy = await fault_proxy_factory(postgres_cluster.host, postgres_cluster.port)
    target = pg_target(postgres_cluster, host="localhost", port=proxy.port)
    assert (await make_probe(target, ctx).run()).ok
    await proxy.set_mode("reset")
    assert (await make_probe(target, ctx).run()).error_kind is K.CONNECTION_RESET
    await proxy.set_mode("refuse")
    assert (await make_probe(target, ctx).run()).error_kind is K.CONNECTION_REFUSED
    nxdomain = replace(target, host="db.something.invalid")
    assert (await make_probe(nxdomain, ctx).run()).error_kind is K.DNS_NOT_FOUND


# --- Supabase ---------------------------------------------------------------------------
async def test_supabase_health_with_apikey(ctx: ProbeContext, http_server: HttpServer) -> None:
    seen: list[str | None] = []

    def health(request):  # type: ignore[no-untyped-def]
        from tests.support.http_server import Response

        seen.append(request.headers.get("apikey"))
        if request.headers.get("apikey") != "anon-key-123":
            return Response(401, {"message": "Invalid API key"})
        return Response(200, {"version": "v2.170.0", "name": "GoTrue",
                              "description": "auth"})

    http_server.route("/auth/v1/health", handler=health)
    target = Target(name="auth", kind="supabase", url=http_server.url,
                    apikey_keyring="netmon/supabase")
    missing = await make_probe(target, ctx).run()
    assert missing.error_kind is K.AUTH_FAILED
    assert "keyring set netmon supabase" in (missing.error or "")
    store_secret("netmon/supabase", "anon-key-123")
    result = await make_probe(target, ctx).run()
    assert result.ok, result.error
    assert result.details["version"] == "v2.170.0"
    assert seen == ["anon-key-123"]
    store_secret("netmon/supabase", "wrong")
    assert (await make_probe(target, ctx).run()).error_kind is K.AUTH_FAILED


async def test_supabase_non_json_answer_is_a_protocol_error(
    ctx: ProbeContext, http_server: HttpServer
) -> None:
    http_server.route("/auth/v1/health", body="<html>maintenance</html>")
    result = await make_probe(Target(name="auth", kind="supabase", url=http_server.url),
                              ctx).run()
    assert result.error_kind is K.PROTOCOL_ERROR


async def test_direct_dns_falls_back_to_a_thread_on_a_loop_without_udp(
    ctx: ProbeContext, dns_server: DnsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # IOCP/proactor-based loops on Windows (a Qt loop among them) may not open datagram
    # endpoints; that limitation cannot exist here, so the loop is made to refuse like one.
    import asyncio

    refused: list[object] = []

    def no_udp(*args: object, **kwargs: object) -> None:
        refused.append(args)
        raise NotImplementedError("datagram endpoints are not supported by this loop")

    monkeypatch.setattr(asyncio.get_running_loop(), "create_datagram_endpoint", no_udp)
    dns_server.add_a("only-direct.invalid", "10.7.7.7")
    result = await make_probe(dns_target("only-direct.invalid", dns_server,
                                         record_types=["A"]), ctx).run()
    direct = result.details["resolvers"][1]
    assert direct["ok"] is True
    assert direct["addresses"] == ["10.7.7.7"]
    assert ("only-direct.invalid", "A") in dns_server.queries
    assert refused, "the loop's UDP path must have been tried first"
