"""Readers every OS shares: the hosts file, proxy variables, proxy strings, URL masking."""

from __future__ import annotations

import contextlib
import ipaddress
import ntpath
import os
import sys
import urllib.parse
import urllib.request
from collections.abc import Mapping

from ..log import redact
from .model import HostsEntry, ProxySetting

__all__ = [
    "environment_proxies", "hosts_file_path", "parse_proxy_list", "read_hosts", "redact_url",
]

_MAX_HOSTS_ENTRIES = 2000


def hosts_file_path(*, platform: str | None = None, environ: Mapping[str, str] | None = None,
                    ) -> str:
    """``%SystemRoot%\\System32\\drivers\\etc\\hosts`` on Windows, ``/etc/hosts`` elsewhere."""
    if (platform or sys.platform) != "win32":
        return "/etc/hosts"
    env = os.environ if environ is None else environ
    root = env.get("SystemRoot") or env.get("SYSTEMROOT") or env.get("windir") or r"C:\Windows"
    return ntpath.join(root, "System32", "drivers", "etc", "hosts")


def redact_url(url: str) -> str:
    """``http://user:pass@proxy:8080`` -> ``http://user:***@proxy:8080`` (also without scheme)."""
    text = url if "://" in url else f"//{url}"
    with contextlib.suppress(ValueError):
        parts = urllib.parse.urlsplit(text)
        if parts.password is not None:
            netloc = f"{parts.username}:***@{parts.netloc.rpartition('@')[2]}"
            text = urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return redact(text if "://" in url else text.removeprefix("//"))


def read_hosts(path: str | os.PathLike[str]) -> tuple[tuple[HostsEntry, ...], str | None]:
    """The hosts file's non-comment entries, and a note when it could not be read."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return (), "file not found"
    except OSError as exc:
        return (), f"unreadable: {exc.strerror or exc}"
    entries: list[HostsEntry] = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0].split("%", 1)[0]))
        except ValueError:
            continue  # the OS ignores a bad line too
        entries.append(HostsEntry(address, tuple(fields[1:]), number))
        if len(entries) >= _MAX_HOSTS_ENTRIES:
            return tuple(entries), f"only the first {_MAX_HOSTS_ENTRIES} entries are shown"
    return tuple(entries), None


def environment_proxies(environ: Mapping[str, str] | None = None) -> tuple[ProxySetting, ...]:
    """The ``*_proxy`` environment variables as one setting (none when unset)."""
    if environ is None:
        found = urllib.request.getproxies_environment()
    else:
        found = {}
        for key, value in environ.items():
            low = key.lower()
            if low.endswith("_proxy") and value:
                found.setdefault(low[:-6], value)
    no_proxy = found.pop("no", "")
    servers = tuple(sorted((k, redact_url(v)) for k, v in found.items()
                           if k in ("http", "https", "all", "ftp")))
    if not servers and not no_proxy:
        return ()
    bypass = tuple(x.strip() for x in no_proxy.split(",") if x.strip())
    return (ProxySetting("environment", servers, bypass),)


def parse_proxy_list(text: str | None) -> tuple[tuple[str, str], ...]:
    """A WinINET/WinHTTP proxy string: ``proxy:8080`` (all schemes) or
    ``http=proxy:8080;https=proxy:8443`` -> ((scheme, masked URL), ...)."""
    pairs: list[tuple[str, str]] = []
    for part in (text or "").replace(" ", ";").split(";"):
        if not part:
            continue
        scheme, sep, server = part.partition("=")
        if not sep:
            scheme, server = "all", part
        scheme = scheme.lower()
        if "://" not in server:
            server = f"http://{server}"
        pairs.append((scheme, redact_url(server)))
    return tuple(sorted(dict(pairs).items()))
