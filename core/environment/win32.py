"""The real ``WindowsApi``: winreg and ctypes calls into iphlpapi.dll and winhttp.dll.

Importable everywhere; ``Win32Api`` exists on Windows only (type-check it with
``mypy --platform win32``).
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Win32Api"]

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import ctypes
    import socket
    import winreg
    from ctypes import wintypes

    _AF_UNSPEC = 0
    _GAA_FLAG_INCLUDE_GATEWAYS = 0x0080
    _ERROR_BUFFER_OVERFLOW = 111
    _HIVES = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKCU": winreg.HKEY_CURRENT_USER}

    class _SocketAddress(ctypes.Structure):
        _fields_ = [("lpSockaddr", ctypes.c_void_p), ("iSockaddrLength", ctypes.c_int)]

    class _Unicast(ctypes.Structure):
        pass

    _Unicast._fields_ = [
        ("Length", wintypes.ULONG), ("Flags", wintypes.DWORD),
        ("Next", ctypes.POINTER(_Unicast)), ("Address", _SocketAddress),
        ("PrefixOrigin", ctypes.c_int), ("SuffixOrigin", ctypes.c_int),
        ("DadState", ctypes.c_int), ("ValidLifetime", wintypes.ULONG),
        ("PreferredLifetime", wintypes.ULONG), ("LeaseLifetime", wintypes.ULONG),
        ("OnLinkPrefixLength", ctypes.c_ubyte)]

    class _Simple(ctypes.Structure):  # IP_ADAPTER_DNS_SERVER_ADDRESS / GATEWAY_ADDRESS
        pass

    _Simple._fields_ = [("Length", wintypes.ULONG), ("Reserved", wintypes.DWORD),
                        ("Next", ctypes.POINTER(_Simple)), ("Address", _SocketAddress)]

    class _Adapter(ctypes.Structure):
        pass

    _Adapter._fields_ = [
        ("Length", wintypes.ULONG), ("IfIndex", wintypes.DWORD),
        ("Next", ctypes.POINTER(_Adapter)), ("AdapterName", ctypes.c_char_p),
        ("FirstUnicastAddress", ctypes.POINTER(_Unicast)),
        ("FirstAnycastAddress", ctypes.c_void_p), ("FirstMulticastAddress", ctypes.c_void_p),
        ("FirstDnsServerAddress", ctypes.POINTER(_Simple)),
        ("DnsSuffix", ctypes.c_wchar_p), ("Description", ctypes.c_wchar_p),
        ("FriendlyName", ctypes.c_wchar_p), ("PhysicalAddress", ctypes.c_ubyte * 8),
        ("PhysicalAddressLength", wintypes.ULONG), ("Flags", wintypes.ULONG),
        ("Mtu", wintypes.ULONG), ("IfType", wintypes.DWORD), ("OperStatus", ctypes.c_int),
        ("Ipv6IfIndex", wintypes.DWORD), ("ZoneIndices", wintypes.ULONG * 16),
        ("FirstPrefix", ctypes.c_void_p), ("TransmitLinkSpeed", ctypes.c_uint64),
        ("ReceiveLinkSpeed", ctypes.c_uint64), ("FirstWinsServerAddress", ctypes.c_void_p),
        ("FirstGatewayAddress", ctypes.POINTER(_Simple)), ("Ipv4Metric", wintypes.ULONG),
        ("Ipv6Metric", wintypes.ULONG)]

    class _IeProxyConfig(ctypes.Structure):
        _fields_ = [("fAutoDetect", wintypes.BOOL), ("lpszAutoConfigUrl", wintypes.LPWSTR),
                    ("lpszProxy", wintypes.LPWSTR), ("lpszProxyBypass", wintypes.LPWSTR)]

    class _ProxyInfo(ctypes.Structure):
        _fields_ = [("dwAccessType", wintypes.DWORD), ("lpszProxy", wintypes.LPWSTR),
                    ("lpszProxyBypass", wintypes.LPWSTR)]

    def _sockaddr(addr: _SocketAddress) -> str:
        raw = ctypes.string_at(addr.lpSockaddr, addr.iSockaddrLength)
        family = int.from_bytes(raw[:2], "little")
        if family == socket.AF_INET6:
            return socket.inet_ntop(socket.AF_INET6, raw[8:24])
        return socket.inet_ntop(socket.AF_INET, raw[4:8])

    def _walk(first: Any) -> list[Any]:
        items = []
        node = first
        while node:
            items.append(node.contents)
            node = node.contents.Next
        return items

    def _take(value: Any) -> str | None:
        """A WinHTTP-allocated string: copy it, then GlobalFree it."""
        if not value:
            return None
        text = ctypes.wstring_at(value)
        ctypes.windll.kernel32.GlobalFree(ctypes.c_void_p(value))
        return text

    class Win32Api:
        """``WindowsApi`` over the real calls."""

        def adapters(self) -> list[dict[str, Any]]:
            get = ctypes.WinDLL("iphlpapi.dll").GetAdaptersAddresses
            size = wintypes.ULONG(15000)
            for _ in range(3):
                buffer = ctypes.create_string_buffer(size.value)
                code = get(_AF_UNSPEC, _GAA_FLAG_INCLUDE_GATEWAYS, None, buffer,
                           ctypes.byref(size))
                if code != _ERROR_BUFFER_OVERFLOW:
                    break
            if code != 0:
                raise OSError(code, f"GetAdaptersAddresses returned {code}")
            first = ctypes.cast(buffer, ctypes.POINTER(_Adapter))
            return [{
                "AdapterName": (a.AdapterName or b"").decode("ascii", "replace"),
                "FriendlyName": a.FriendlyName, "Description": a.Description,
                "IfIndex": a.IfIndex, "OperStatus": a.OperStatus, "IfType": a.IfType,
                "Ipv4Metric": a.Ipv4Metric, "Ipv6Metric": a.Ipv6Metric,
                "DnsSuffix": a.DnsSuffix,
                "UnicastAddresses": [{"Address": _sockaddr(u.Address),
                                      "OnLinkPrefixLength": u.OnLinkPrefixLength}
                                     for u in _walk(a.FirstUnicastAddress)],
                "GatewayAddresses": [_sockaddr(g.Address) for g in _walk(a.FirstGatewayAddress)],
                "DnsServerAddresses": [_sockaddr(d.Address)
                                       for d in _walk(a.FirstDnsServerAddress)],
            } for a in _walk(first)]

        def reg_values(self, hive: str, key: str) -> dict[str, Any]:
            try:
                handle = winreg.OpenKey(_HIVES[hive], key)
            except FileNotFoundError:
                return {}
            values: dict[str, Any] = {}
            with handle:
                index = 0
                while True:
                    try:
                        name, value, _ = winreg.EnumValue(handle, index)
                    except OSError:
                        return values
                    values[name] = value
                    index += 1

        def reg_subkeys(self, hive: str, key: str) -> list[str]:
            try:
                handle = winreg.OpenKey(_HIVES[hive], key)
            except FileNotFoundError:
                return []
            names = []
            with handle:
                index = 0
                while True:
                    try:
                        names.append(winreg.EnumKey(handle, index))
                    except OSError:
                        return names
                    index += 1

        def ie_proxy(self) -> dict[str, Any]:
            config = _IeProxyConfig()
            if not ctypes.WinDLL("winhttp.dll").WinHttpGetIEProxyConfigForCurrentUser(
                    ctypes.byref(config)):
                raise ctypes.WinError()
            return {"fAutoDetect": bool(config.fAutoDetect),
                    "lpszAutoConfigUrl": _take(ctypes.cast(config.lpszAutoConfigUrl,
                                                           ctypes.c_void_p).value),
                    "lpszProxy": _take(ctypes.cast(config.lpszProxy, ctypes.c_void_p).value),
                    "lpszProxyBypass": _take(ctypes.cast(config.lpszProxyBypass,
                                                         ctypes.c_void_p).value)}

        def winhttp_proxy(self) -> dict[str, Any]:
            info = _ProxyInfo()
            if not ctypes.WinDLL("winhttp.dll").WinHttpGetDefaultProxyConfiguration(
                    ctypes.byref(info)):
                raise ctypes.WinError()
            return {"dwAccessType": info.dwAccessType,
                    "lpszProxy": _take(ctypes.cast(info.lpszProxy, ctypes.c_void_p).value),
                    "lpszProxyBypass": _take(ctypes.cast(info.lpszProxyBypass,
                                                         ctypes.c_void_p).value)}
