"""Redirects followed by hand so credentials never reach another origin.

httpx drops ``Authorization`` on a cross-origin redirect but forwards every other header,
so an ``apikey`` followed a ``Location`` to any host. ``send_following`` takes each hop
itself (httpx's ``response.next_request``) and, when the scheme, host or port changes,
removes every header in ``CREDENTIAL_HEADERS`` from that hop and all later ones.
"""

from __future__ import annotations

import httpx

__all__ = ["CREDENTIAL_HEADERS", "same_origin", "send_following"]

#: Lower-case names of headers that carry a credential.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "apikey", "x-api-key"})

_DEFAULT_PORTS = {"http": 80, "https": 443}


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Whether ``a`` and ``b`` share scheme, host and (default-filled) port."""
    return (a.scheme, a.host, a.port or _DEFAULT_PORTS.get(a.scheme)) == (
        b.scheme, b.host, b.port or _DEFAULT_PORTS.get(b.scheme))


async def send_following(
    client: httpx.AsyncClient, request: httpx.Request, *, follow: bool,
) -> tuple[httpx.Response, int]:
    """Send ``request`` streamed; when ``follow``, take up to ``client.max_redirects`` hops,
    stripping credential headers on any cross-origin hop. Returns the last response and
    the number of hops."""
    response = await client.send(request, stream=True, follow_redirects=False)
    hops = 0
    while follow and response.next_request is not None:
        hop = response.next_request
        await response.aclose()
        if hops >= client.max_redirects:
            raise httpx.TooManyRedirects("exceeded maximum allowed redirects", request=hop)
        if not same_origin(response.request.url, hop.url):
            for name in CREDENTIAL_HEADERS:
                hop.headers.pop(name, None)
        hops += 1
        response = await client.send(hop, stream=True, follow_redirects=False)
    return response, hops
