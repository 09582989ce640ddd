"""The Linux environment reader, the gateway/DNS reachability layer and the path trace, for
real, inside network namespaces this module creates (client -- router -- server, documentation
prefixes, no link to the host's network; see tests/support/netns.py). ``netmon`` runs as a
subprocess inside the client namespace, with its own resolv.conf and hosts file mounted.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import netns
from tests.support.netns import CLIENT, GATEWAY_IP, ROUTER, SERVER, SERVER_IP, Topology

_WHY = netns.available()
pytestmark = pytest.mark.skipif(_WHY is not None and os.environ.get("CI") != "true",
                                reason=_WHY or "")

RESOLV = f"nameserver {SERVER_IP}\nsearch corp.example lab.example\noptions timeout:1 attempts:1\n"
HOSTS = "127.0.0.1 localhost\n203.0.113.2 api.corp.example\n0.0.0.0 ads.example\n"
FILES = {"/etc/resolv.conf": RESOLV, "/etc/hosts": HOSTS}


@pytest.fixture(scope="module")
def net() -> Iterator[Topology]:
    with Topology() as topology:
        yield topology


def _netmon(net: Topology, *args: str, icmp: bool) -> tuple[int, Any]:
    client = net.names[CLIENT]
    net.sh(client, "sysctl -qw net.ipv4.ping_group_range='"
           + ("0 2147483647" if icmp else "1 0") + "'")
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", os.getcwd())}
    for var in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        env.pop(var, None)
        env.pop(var.upper(), None)
    done = net.run(CLIENT, [sys.executable, "-m", "core", *args], files=FILES, env=env,
                   timeout=30)
    assert done.stderr == "", done.stderr
    return done.returncode, json.loads(done.stdout)


def test_env_reads_the_namespace_and_falls_back_to_tcp_and_udp(net: Topology) -> None:
    code, doc = _netmon(net, "env", "--json", "--probe", "--timeout", "1", icmp=False)
    env = doc["environment"]
    assert doc["schema"] == "netmon.env/1" and doc["probed"] is True
    assert env["default_route"] == {"family": "ipv4", "gateway": GATEWAY_IP, "interface": "vc",
                                    "metric": 0}
    [vc] = [a for a in env["adapters"] if a["name"] == "vc"]
    assert vc["addresses"] == ["198.51.100.2/24"] or vc["addresses"][0] == "198.51.100.2/24"
    assert vc["up"] is True and vc["gateways"] == [GATEWAY_IP]
    assert env["dns"]["servers"] == [SERVER_IP]
    assert env["dns"]["search_domains"] == ["corp.example", "lab.example"]
    assert env["dns"]["options"] == ["timeout:1", "attempts:1"]
    assert [e["names"] for e in env["hosts_file"]["entries"]] == [
        ["localhost"], ["api.corp.example"], ["ads.example"]]
    checks = {c["role"]: c for c in doc["reachability"]}
    assert checks["gateway"]["ok"] and checks["gateway"]["method"] == "tcp:53"
    assert "ping_group_range" in checks["gateway"]["note"]
    assert checks["dns_server"]["ok"] and checks["dns_server"]["method"] == "udp:53"
    ids = {c["id"] for c in doc["conditions"]}
    assert "hosts_sinkhole" in ids and "gateway_unreachable" not in ids
    assert code == 1  # the sinkhole is a warning


def test_env_uses_unprivileged_icmp_where_allowed(net: Topology) -> None:
    _, doc = _netmon(net, "env", "--json", "--probe", "--timeout", "1", icmp=True)
    methods = {c["role"]: c["method"] for c in doc["reachability"]}
    assert methods == {"gateway": "icmp", "dns_server": "icmp"}


def test_diagnose_network_and_trace_reach_the_server(net: Topology) -> None:
    code, doc = _netmon(net, "diagnose", f"{SERVER_IP}:9", "--network", "--trace",
                        "--timeout", "1", "--no-system-nameservers", "--json", icmp=True)
    path = doc["network"]["path"]
    assert path["reached"] is True and path["method"] == "udp"
    assert [h["address"] for h in path["hops"]] == [GATEWAY_IP, SERVER_IP]
    assert all(h["loss"] == 0 for h in path["hops"])
    gateway = [c for c in doc["network"]["reachability"] if c["role"] == "gateway"]
    assert gateway[0]["ok"] and gateway[0]["method"] == "icmp"
    assert doc["verdict"]["kind"] == "connection_refused"  # nothing listens on port 9
    assert code == 2


def test_trace_stops_at_the_first_silent_hop_and_names_it(net: Topology) -> None:
    server = net.names[SERVER]
    net.sh(server, "ip route del default")  # the server can no longer answer the client
    try:
        code, doc = _netmon(net, "diagnose", f"{SERVER_IP}:80", "--trace", "--timeout", "0.5",
                            "--no-system-nameservers", "--json", icmp=True)
    finally:
        net.sh(server, f"ip route add default via {netns.ROUTER_FAR_IP}")
    path = doc["network"]["path"]
    assert path["stopped"] == "silent" and path["silent_hop"] == 2
    assert [h["address"] for h in path["hops"]] == [GATEWAY_IP, None]
    assert f"after {GATEWAY_IP} (hop 1)" in path["summary"]
    assert any("hop 2 is silent" in n for n in doc["verdict"]["notes"])
    assert code == 2


def test_gateway_down_is_the_verdict(net: Topology) -> None:
    client = net.names[CLIENT]
    net.sh(client, "ip route replace default via 198.51.100.99")  # nobody has this address
    try:
        code, doc = _netmon(net, "diagnose", f"{SERVER_IP}:80", "--network", "--timeout", "0.5",
                            "--no-system-nameservers", "--json", icmp=False)
    finally:
        net.sh(client, f"ip route replace default via {GATEWAY_IP}")
    verdict = doc["verdict"]
    assert verdict["layer"] == "gateway"
    assert "198.51.100.99 does not answer (tcp:53)" in verdict["summary"]
    assert code == 2


def test_router_namespace_is_separate(net: Topology) -> None:
    """The topology really is isolated: the router's only addresses are the test ones."""
    text = net.sh(net.names[ROUTER], "ip -4 -o addr show")
    assert "198.51.100.1/24" in text and "203.0.113.1/24" in text
    assert text.count("inet ") == 3  # lo + the two veth ends


_SLOW_AND_QUICK = """
import asyncio, socket
from core.probes.os_resolver import getaddrinfo

async def main():
    await getaddrinfo("localhost", 80)  # a resolver thread exists and is idle
    # all submitted in one turn of the loop, the slow ones first
    slow = [asyncio.ensure_future(getaddrinfo(f"slow{i}.example", 80)) for i in range(4)]
    quick = await asyncio.ensure_future(getaddrinfo("localhost", 80))
    print("quick answered while slow pending:",
          bool(quick) and not any(lookup.done() for lookup in slow))
    failed = await asyncio.gather(*slow, return_exceptions=True)
    print("slow failed:", all(isinstance(f, socket.gaierror) and
                              f.errno in (socket.EAI_AGAIN, socket.EAI_NONAME) for f in failed))

asyncio.run(main())
"""


def test_a_lookup_stuck_on_a_silent_nameserver_holds_no_other_lookup_back(
        net: Topology) -> None:
    # 203.0.113.99 is on the server's link but nobody has it: queries to it go unanswered
    silent = {"/etc/resolv.conf": "nameserver 203.0.113.99\noptions timeout:1 attempts:1\n",
              "/etc/hosts": "127.0.0.1 localhost\n"}
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", os.getcwd())}
    done = net.run(CLIENT, [sys.executable, "-c", _SLOW_AND_QUICK], files=silent, env=env,
                   timeout=30)
    assert done.stderr == "", done.stderr
    assert done.stdout.splitlines() == ["quick answered while slow pending: True",
                                        "slow failed: True"]
