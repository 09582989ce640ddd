"""A three-namespace network the tests build and tear down: client -- router -- server.

Nothing is connected to the host's own network: the namespaces are new, joined only by
veth pairs created here, and use documentation prefixes (RFC 5737)::

    client  198.51.100.2/24  default via 198.51.100.1
    router  198.51.100.1/24, 203.0.113.1/24  (forwarding)
    server  203.0.113.2/24   default via 203.0.113.1

``run(ns, argv)`` runs a command inside a namespace with its own mount namespace, where
``files`` (e.g. ``{"/etc/resolv.conf": text}``) are bind-mounted over the real ones.
Needs root and iproute2; ``available()`` says why not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

CLIENT, ROUTER, SERVER = "client", "router", "server"
CLIENT_IP, GATEWAY_IP, ROUTER_FAR_IP, SERVER_IP = (
    "198.51.100.2", "198.51.100.1", "203.0.113.1", "203.0.113.2")


def available() -> str | None:
    """None when namespaces can be made here, else the reason."""
    if sys.platform != "linux":
        return "network namespaces are Linux-only"
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    return None


class Topology:
    """Create with ``with Topology() as net:``; everything is deleted on exit."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.names = {role: f"nm{role[0]}{tag}" for role in (CLIENT, ROUTER, SERVER)}
        self._tmp = Path(tempfile.mkdtemp(prefix="netmon-netns-"))

    def __enter__(self) -> Topology:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ip(self, *args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)

    def _build(self) -> None:
        c, r, s = (self.names[x] for x in (CLIENT, ROUTER, SERVER))
        for ns in (c, r, s):
            self._ip("netns", "add", ns)
            self.sh(ns, "ip link set lo up")
        self._ip("link", "add", "vc", "netns", c, "type", "veth", "peer", "name", "vr1",
                 "netns", r)
        self._ip("link", "add", "vs", "netns", s, "type", "veth", "peer", "name", "vr2",
                 "netns", r)
        self.sh(c, f"ip addr add {CLIENT_IP}/24 dev vc && ip link set vc up && "
                   f"ip route add default via {GATEWAY_IP}")
        self.sh(r, f"ip addr add {GATEWAY_IP}/24 dev vr1 && ip link set vr1 up && "
                   f"ip addr add {ROUTER_FAR_IP}/24 dev vr2 && ip link set vr2 up && "
                   "sysctl -qw net.ipv4.ip_forward=1")
        self.sh(s, f"ip addr add {SERVER_IP}/24 dev vs && ip link set vs up && "
                   f"ip route add default via {ROUTER_FAR_IP}")

    def sh(self, ns: str, script: str) -> str:
        """Run a shell script in namespace ``ns`` (no mount changes); its stdout."""
        done = subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", script], check=True,
                              capture_output=True, text=True, timeout=10)
        return done.stdout

    def run(self, role: str, argv: Sequence[str], *, files: Mapping[str, str] = {},
            env: Mapping[str, str] | None = None, timeout: float = 20,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the ``role`` namespace with ``files`` bind-mounted over theirs."""
        mounts = []
        for i, (target, text) in enumerate(files.items()):
            source = self._tmp / f"file{i}"
            source.write_text(text, encoding="utf-8")
            mounts.append(f"mount --bind {source} {target}")
        script = " && ".join([*mounts, 'exec "$@"'])
        return subprocess.run(
            ["ip", "netns", "exec", self.names[role], "unshare", "--mount", "sh", "-c", script,
             "sh", *argv], capture_output=True, text=True, timeout=timeout,
            env=dict(env) if env is not None else None)

    def close(self) -> None:
        for ns in self.names.values():
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        shutil.rmtree(self._tmp, ignore_errors=True)
