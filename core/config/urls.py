"""HTTP URL checks shared by every URL field ([[targets]] url, [auth] supabase_url,
[[remotes]] url) and by the remote client."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from ..secrets import is_secret_name

__all__ = ["is_http_url", "url_has_credentials"]

_PARAM_SEPARATORS = re.compile(r"[?&#;]")


def is_http_url(url: str) -> bool:
    """True for an ``http://`` or ``https://`` URL with a host (and a valid port, if any)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not 0..65535
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def url_has_credentials(url: str) -> bool:
    """True when ``url`` carries a credential: a ``user[:password]@`` part (also one with an
    unescaped ``/``, ``?`` or ``#`` in the password, which parsers read as a port or a path)
    or a query or fragment parameter named like a secret (``?apikey=``, ``#access_token=``)."""
    _, sep, rest = url.partition("://")
    if not sep:
        rest = url
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return True
    port = (authority.rpartition("]")[2] if authority.startswith("[")
            else authority)
    _, colon, port = port.partition(":")
    if colon and port and not port.isdigit() and "@" in rest[len(authority):]:
        return True
    for piece in _PARAM_SEPARATORS.split(rest[len(authority):])[1:]:
        name, equals, _ = piece.partition("=")
        if equals and is_secret_name(unquote(name).strip()):
            return True
    return False
