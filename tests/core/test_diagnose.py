"""core.diagnose with real parts: loopback DNS/HTTP servers, a fault proxy, the real OS
resolver (``.invalid`` / ``.test`` names fail in getaddrinfo without any network), temp hosts
files. Combinations that cannot happen here (Windows error numbers, DNS timeouts of the OS
resolver) are fed to ``verdict`` as constructed answers.
"""

from __future__ import annotations

import json
import ntpath
import socket
from pathlib import Path, PureWindowsPath

import pytest

from core.diagnose import (
    Diagnosis,
    HostsFileCheck,
    ProxyInfo,
    TcpAttempt,
    check_hosts_file,
    diagnose,
    exit_code,
    hosts_entries,
    hosts_file_path,
    parse_target,
    proxy_info,
    verdict,
)
from core.errors import ErrorKind
from core.probes.dns import ResolverAnswer
from tests.support.dns_server import DnsServer
from tests.support.fixtures import FaultProxyFactory
from tests.support.http_server import HttpServer

K = ErrorKind
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy")
SECTIONS = ("HOSTS FILE", "OS RESOLVER", "DIRECT RESOLVERS", "TCP", "PROXY", "VERDICT")


@pytest.fixture(autouse=True)
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test without proxy variables from the developer's shell."""
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
        monkeypatch.delenv(var.upper(), raising=False)


@pytest.fixture
def hosts_file(tmp_path: Path) -> Path:
    """A hosts file with comments, aliases, IPv6, a bad line and invalid UTF-8."""
    path = tmp_path / "hosts"
    path.write_bytes(
        b"# comment line: 10.9.9.9 db.internal\n"
        b"127.0.0.1   localhost\n"
        b"10.0.0.5    db.internal  DB  db-alias.corp.  # trailing comment\n"
        b"fe80::1%lo0 linklocal.test\n"
        b"::1         ip6only.test db.internal\n"
        b"not-an-ip   broken.test\n"
        b"10.0.0.6\n"
        b"10.0.0.7    caf\xe9\xff.test db.internal\n"
        b"\t  \n"
        b"10.0.0.5    db.internal\n"
    )
    return path


def _answers(server: DnsServer) -> list[str]:
    return [f"127.0.0.1:{server.port}"]


def _os_fails(name: str) -> bool:
    try:
        socket.getaddrinfo(name, 80)
    except OSError:
        return True
    return False


@pytest.fixture
def local_only_name() -> str:
    """A name the OS resolver cannot find here but our DNS server serves."""
    for name in ("onlyhere.test", "onlyhere.invalid"):
        if _os_fails(name):
            return name
    pytest.skip("the OS resolver answers even .invalid names")


# ------------------------------------------------------------------ parse_target
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db.internal:5432", ("db.internal", 5432)),
        ("db.internal", ("db.internal", None)),
        ("[::1]:443", ("::1", 443)),
        ("[::1]", ("::1", None)),
        ("fe80::1", ("fe80::1", None)),
        ("https://api.example.com/v1/x?y=1", ("api.example.com", 443)),
        ("http://user:pw@Example.com:8080/", ("example.com", 8080)),
        ("postgresql://db.internal/app", ("db.internal", 5432)),
        ("  10.0.0.1:22 ", ("10.0.0.1", 22)),
    ],
)
def test_parse_target(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", ":80", "host:0", "host:70000", "host:http", "[::1]x"])
def test_parse_target_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="bad"):
        parse_target(text)


# ------------------------------------------------------------------ hosts file
def test_hosts_entries_match_aliases_case_insensitively(hosts_file: Path) -> None:
    assert hosts_entries("db.internal", hosts_file) == ["10.0.0.5", "::1", "10.0.0.7"]
    assert hosts_entries("DB", hosts_file) == ["10.0.0.5"]
    assert hosts_entries("db-alias.corp", hosts_file) == ["10.0.0.5"]  # trailing dot
    assert hosts_entries("IP6ONLY.test.", hosts_file) == ["::1"]
    assert hosts_entries("linklocal.test", hosts_file) == ["fe80::1%lo0"]


def test_hosts_file_tolerates_comments_bad_lines_and_bad_bytes(hosts_file: Path) -> None:
    assert hosts_entries("broken.test", hosts_file) == []
    assert hosts_entries("comment", hosts_file) == []
    assert hosts_entries("10.9.9.9", hosts_file) == []
    assert hosts_entries("caf\ufffd\ufffd.test", hosts_file) == ["10.0.0.7"]
    check = check_hosts_file("nothing.test", hosts_file)
    assert check == HostsFileCheck(str(hosts_file), (), None)


def test_missing_or_unreadable_hosts_file_is_a_note(tmp_path: Path) -> None:
    missing = check_hosts_file("x.test", tmp_path / "nope")
    assert missing.entries == () and missing.note == "file not found"
    unreadable = check_hosts_file("x.test", tmp_path)  # a directory
    assert unreadable.entries == () and unreadable.note and "unreadable" in unreadable.note
    assert hosts_entries("x.test", tmp_path / "nope") == []


def test_hosts_file_path_windows_uses_systemroot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SystemRoot", r"D:\WinNT")
    path = hosts_file_path(platform="win32")
    assert path == ntpath.join("D:\\WinNT", "System32", "drivers", "etc", "hosts")
    assert PureWindowsPath(path) == PureWindowsPath(r"D:\WinNT\System32\drivers\etc\hosts")
    assert hosts_file_path(platform="win32", environ={}) == (
        r"C:\Windows\System32\drivers\etc\hosts")
    assert hosts_file_path(platform="linux") == "/etc/hosts"


# ------------------------------------------------------------------ real diagnoses
async def test_os_fails_but_direct_resolver_answers(
    dns_server: DnsServer, http_server: HttpServer, local_only_name: str, tmp_path: Path,
) -> None:
    dns_server.add_a(local_only_name, "127.0.0.1")
    d = await diagnose(f"{local_only_name}:{http_server.port}", nameservers=_answers(dns_server),
                       include_system=False, timeout=2.0, hosts_path=tmp_path / "none")
    assert not d.os_answer.ok and d.os_answer.error_kind is K.DNS_NOT_FOUND
    assert [a.ok for a in d.direct] == [True] and d.direct[0].addresses == ("127.0.0.1",)
    assert [(t.address, t.ok) for t in d.tcp] == [("127.0.0.1", True)]
    assert d.tcp_source == _answers(dns_server)[0]
    v = d.verdict
    assert (v.layer, v.kind, v.status) == ("dns", K.DNS_NOT_FOUND, "degraded")
    assert "local resolver, VPN split DNS or hosts file" in v.summary
    assert any("nslookup" in s and str(dns_server.port) in s for s in v.next_steps)
    assert d.hosts.note == "file not found"
    assert exit_code(d) == 1


async def test_name_that_does_not_exist_anywhere(dns_server: DnsServer) -> None:
    d = await diagnose("something.invalid", nameservers=_answers(dns_server),
                       include_system=False, timeout=2.0)
    assert d.os_answer.errno == socket.EAI_NONAME  # -2 on Linux
    assert d.direct[0].rcode == "NXDOMAIN"
    assert (d.verdict.layer, d.verdict.kind, d.verdict.status) == (
        "dns", K.DNS_NOT_FOUND, "down")
    assert "name does not exist" in d.verdict.summary
    assert d.tcp == ()
    assert f"[Errno {socket.EAI_NONAME}]" in d.render_text()
    assert exit_code(d) == 2


async def test_localhost_reachable(http_server: HttpServer) -> None:
    d = await diagnose(f"localhost:{http_server.port}", include_system=False, timeout=2.0)
    assert d.os_answer.ok
    by_address = {t.address: t for t in d.tcp}
    assert by_address["127.0.0.1"].ok and by_address["127.0.0.1"].latency_ms >= 0
    if set(by_address) == {"127.0.0.1"}:
        assert (d.verdict.layer, d.verdict.kind, d.verdict.status) == ("none", None, "up")
        assert d.verdict.summary.startswith("reachable")
        assert exit_code(d) == 0
    else:  # localhost -> ::1 too, where the IPv4-only test server does not listen
        assert exit_code(d) == 1


async def test_ip_literal_reachable_then_refused(
    http_server: HttpServer, fault_proxy_factory: FaultProxyFactory,
) -> None:
    proxy = await fault_proxy_factory("127.0.0.1", http_server.port)
    target = f"127.0.0.1:{proxy.port}"
    up = await diagnose(target, timeout=2.0)
    assert up.direct == () and up.hosts.checked is False
    assert (up.verdict.layer, up.verdict.status, exit_code(up)) == ("none", "up", 0)

    await proxy.set_mode("refuse")
    down = await diagnose(target, timeout=2.0)
    assert [t.error_kind for t in down.tcp] == [K.CONNECTION_REFUSED]
    v = down.verdict
    assert (v.layer, v.kind, v.status) == ("tcp", K.CONNECTION_REFUSED, "down")
    assert "service down or firewall" in v.summary
    assert exit_code(down) == 2


async def test_localhost_closed_port_is_refused() -> None:
    with socket.socket() as sock:  # bound, never listening: connects are refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        d = await diagnose(f"localhost:{port}", include_system=False, timeout=2.0)
    assert d.tcp and all(t.error_kind is K.CONNECTION_REFUSED for t in d.tcp)
    assert (d.verdict.layer, d.verdict.kind) == ("tcp", K.CONNECTION_REFUSED)
    assert "service down or firewall" in d.verdict.summary
    assert exit_code(d) == 2


async def test_silent_dns_server_and_os_failure(dns_server: DnsServer) -> None:
    dns_server.set_behaviour("quiet.invalid", "silent")
    d = await diagnose("quiet.invalid", nameservers=_answers(dns_server),
                       include_system=False, timeout=0.3)
    assert d.direct[0].error_kind is K.DNS_TIMEOUT
    assert not d.os_answer.ok
    assert (d.verdict.layer, d.verdict.kind, d.verdict.status) == ("dns", K.DNS_TIMEOUT, "down")
    assert "no DNS server reachable" in d.verdict.summary
    assert exit_code(d) == 2
    assert d.elapsed_ms < 2000


async def test_hosts_override_is_noted(dns_server: DnsServer, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n", encoding="utf-8")
    dns_server.add_a("localhost", "10.20.30.40")
    d = await diagnose("localhost", nameservers=_answers(dns_server), include_system=False,
                       timeout=2.0, hosts_path=hosts)
    assert d.hosts.entries == ("127.0.0.1",)
    assert any("hosts file overrides DNS" in n and "10.20.30.40" in n for n in d.verdict.notes)
    assert exit_code(d) == 0


async def test_bad_nameserver_is_bad_input() -> None:
    with pytest.raises(ValueError, match="nameserver"):
        await diagnose("x.invalid", nameservers=["dns.example"], include_system=False)


# ------------------------------------------------------------------ proxy
def test_proxy_credentials_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:s3cr3t@proxy.corp:8080")
    monkeypatch.setenv("all_proxy", "bob:hunter2@socks.corp:1080")
    monkeypatch.setenv("NO_PROXY", "localhost,.internal")
    info = proxy_info("api.example.com", 443)
    text = json.dumps(info.as_dict())
    assert "s3cr3t" not in text and "hunter2" not in text
    assert dict(info.proxies)["https"] == "http://alice:***@proxy.corp:8080"
    assert dict(info.proxies)["all"] == "bob:***@socks.corp:1080"
    assert (info.bypass, info.applies) == (False, "http://alice:***@proxy.corp:8080")
    assert info.no_proxy == "localhost,.internal"


def test_no_proxy_bypass_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.corp:8080")
    monkeypatch.setenv("no_proxy", "localhost,.internal")
    assert proxy_info("db.internal", 443).bypass
    assert proxy_info("LOCALHOST", 8080).bypass
    assert not proxy_info("example.com", 443).bypass
    raw = proxy_info("example.com", 5432)
    assert raw.applies is None and raw.note and "raw TCP" in raw.note


async def test_diagnosis_reports_proxy_redacted(
    monkeypatch: pytest.MonkeyPatch, http_server: HttpServer,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://alice:s3cr3t@proxy.corp:8080")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    d = await diagnose(f"https://127.0.0.1:{http_server.port}/", timeout=2.0)
    text = d.render_text() + json.dumps(d.as_dict())
    assert "s3cr3t" not in text and "alice:***@proxy.corp" in text
    assert d.proxy.bypass and "bypassed (NO_PROXY)" in d.render_text()


# ------------------------------------------------------------------ verdict rules
def _os_fail(kind: ErrorKind, errno: int | None, text: str) -> ResolverAnswer:
    return ResolverAnswer("os", False, error_kind=kind, error=text, errno=errno)


def _nx(label: str = "10.0.0.53") -> ResolverAnswer:
    return ResolverAnswer(label, False, error_kind=K.DNS_NOT_FOUND, rcode="NXDOMAIN")


def _dns_timeout(label: str = "10.0.0.53") -> ResolverAnswer:
    return ResolverAnswer(label, False, error_kind=K.DNS_TIMEOUT, error="LifetimeTimeout")


def _ok(label: str, *addresses: str) -> ResolverAnswer:
    return ResolverAnswer(label, True, addresses, 1.0)


WIN_NOT_FOUND = _os_fail(K.DNS_NOT_FOUND, 11001, "[Errno 11001] getaddrinfo failed")


def test_windows_11001_renders_and_gives_dns_not_found() -> None:
    v = verdict("db.internal", 5432, os_answer=WIN_NOT_FOUND, direct=[_nx()], platform="win32")
    assert (v.layer, v.kind, v.status) == ("dns", K.DNS_NOT_FOUND, "down")
    assert "name does not exist" in v.summary and "[Errno 11001]" in v.summary
    alone = verdict("db.internal", 5432, os_answer=WIN_NOT_FOUND, platform="win32")
    assert (alone.layer, alone.kind) == ("dns", K.DNS_NOT_FOUND)
    assert "ipconfig /flushdns" in " ".join(alone.next_steps)
    d = Diagnosis("db.internal:5432", "db.internal", 5432, WIN_NOT_FOUND, alone)
    text = d.render_text()
    assert "FAIL  dns_not_found [Errno 11001] getaddrinfo failed (WSAHOST_NOT_FOUND)" in text
    assert exit_code(d) == 2


def test_windows_next_steps_for_split_dns() -> None:
    v = verdict("db.corp", 5432, os_answer=WIN_NOT_FOUND,
                direct=[_ok("10.8.0.1:5353", "10.8.1.2")], platform="win32",
                hosts=HostsFileCheck(r"C:\Windows\System32\drivers\etc\hosts"))
    assert (v.layer, v.status) == ("dns", "degraded")
    steps = " | ".join(v.next_steps)
    for expected in ("ipconfig /flushdns", "nslookup -port=5353 db.corp 10.8.0.1",
                     "Resolve-DnsName db.corp", r"C:\Windows\System32\drivers\etc\hosts",
                     "Get-DnsClientNrptPolicy"):
        assert expected in steps


def test_no_dns_server_reachable() -> None:
    temp = _os_fail(K.DNS_TEMPORARY, 11002, "[Errno 11002] getaddrinfo failed")
    v = verdict("db.internal", None, os_answer=temp, direct=[_dns_timeout(), _dns_timeout("x")])
    assert (v.layer, v.kind, v.status) == ("dns", K.DNS_TIMEOUT, "down")
    assert "no DNS server reachable: network or VPN down" in v.summary
    timeout = _os_fail(K.TIMEOUT, None, "TimeoutError")
    assert "no DNS server reachable" in verdict("h.x", os_answer=timeout).summary


def test_tcp_failure_kinds() -> None:
    resolved = _ok("os", "10.0.0.5")

    def tcp(kind: ErrorKind | None, address: str = "10.0.0.5") -> TcpAttempt:
        return TcpAttempt(address, 5432, kind is None, 3.0, kind, None if kind else "x")

    cases = {
        K.CONNECTION_REFUSED: "service down or firewall",
        K.NETWORK_UNREACHABLE: "routing or VPN",
        K.HOST_UNREACHABLE: "routing or VPN",
        K.TIMEOUT: "firewall is dropping packets",
    }
    for kind, words in cases.items():
        v = verdict("db.internal", 5432, os_answer=resolved, tcp=[tcp(kind)], platform="win32")
        assert (v.layer, v.kind, v.status) == ("tcp", kind, "down")
        assert words in v.summary
        assert "Test-NetConnection db.internal -Port 5432" in v.next_steps
    everything = verdict("db.internal", 5432, os_answer=resolved, direct=[_dns_timeout()],
                         tcp=[tcp(K.TIMEOUT)])
    assert (everything.layer, everything.summary.split(":")[0]) == ("network", "no network path")
    partial = verdict("db.internal", 5432, os_answer=_ok("os", "10.0.0.5", "fd00::5"),
                      tcp=[tcp(None), tcp(K.NETWORK_UNREACHABLE, "fd00::5")])
    assert (partial.layer, partial.status) == ("tcp", "degraded")
    all_ok = verdict("db.internal", 5432, os_answer=resolved, tcp=[tcp(None)])
    assert (all_ok.layer, all_ok.kind, all_ok.status) == ("none", None, "up")


def test_stale_hosts_entry_is_the_failing_layer() -> None:
    v = verdict("db.internal", 5432, os_answer=_ok("os", "10.0.0.5"),
                direct=[_ok("10.0.0.53", "10.0.0.99")],
                tcp=[TcpAttempt("10.0.0.5", 5432, False, 3000.0, K.TIMEOUT, "timed out")],
                hosts=HostsFileCheck("/etc/hosts", ("10.0.0.5",)))
    assert (v.layer, v.status) == ("hosts", "down")
    assert any("overrides DNS" in n for n in v.notes)


# ------------------------------------------------------------------ output
async def test_render_text_and_as_dict(
    dns_server: DnsServer, http_server: HttpServer, local_only_name: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text(f"10.0.0.5 {local_only_name}\n::1 {local_only_name.upper()}\n",
                     encoding="utf-8")
    dns_server.add_a(local_only_name, "127.0.0.1")
    monkeypatch.setenv("HTTP_PROXY", "http://u:pw@proxy:3128")
    d = await diagnose(f"{local_only_name}:{http_server.port}", nameservers=_answers(dns_server),
                       include_system=False, timeout=2.0, hosts_path=hosts)
    text = d.render_text()
    text.encode("ascii")  # ASCII only
    positions = [text.index(f"\n{name}") for name in SECTIONS]
    assert positions == sorted(positions)
    assert f"{local_only_name} -> 10.0.0.5, ::1" in text
    assert "ok    127.0.0.1" in text and "FAIL  dns_not_found [Errno" in text
    assert "WARNING (exit 1)" in text
    data = json.loads(json.dumps(d.as_dict()))
    assert data["os_resolver"]["error_kind"] == "dns_not_found"
    assert data["verdict"]["kind"] == "dns_not_found"
    assert data["tcp"][0]["ok"] is True
    assert data["exit_code"] == exit_code(d) == 1
    assert "pw@" not in json.dumps(data) and "u:***@proxy:3128" in json.dumps(data)


def test_render_text_escapes_non_ascii() -> None:
    v = verdict("caf\u00e9.test", os_answer=WIN_NOT_FOUND)
    d = Diagnosis("caf\u00e9.test", "caf\u00e9.test", None, WIN_NOT_FOUND, v,
                  proxy=ProxyInfo((("https", "http://proxy:1"),), None, False, None))
    text = d.render_text()
    text.encode("ascii")
    assert "caf\\xe9.test" in text
    json.dumps(d.as_dict())
