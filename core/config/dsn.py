"""PostgreSQL connection strings read by libpq's rules, with every password refused.

Both forms libpq accepts (``PQconninfoParse`` in fe-connect.c; a test compares the two):

- URL: ``postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?k=v&...]``
  (also ``postgres://``): the userinfo ends at the first ``@`` unless a ``/`` comes first,
  hosts may be ``[IPv6]``, every part is percent-decoded strictly (``%`` + two hex digits,
  never ``%00``), query parameters override the parts before them, ``ssl=true`` means
  ``sslmode=require``.
- Keywords: ``host=db port=5432 dbname='my db'``: blanks around ``=`` allowed, values
  single-quoted or bare, ``\\`` escapes the next character in both.

A password is refused wherever it is written (userinfo, ``?password=``, ``password=``, any
other secret name from ``core.secrets.SECRET_NAMES``). Error messages never contain any part
of the DSN (it may hold a secret): they say what is wrong and where (character positions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from ..secrets import is_secret_name

__all__ = ["PASSWORD_FIX", "Dsn", "DsnError", "parse_dsn"]

PASSWORD_FIX = (
    "put the password in the OS keyring (keyring set netmon db) and name the entry: "
    'password_keyring = "netmon/db" (or password_env = "NETMON_DB_PASSWORD" on a headless '
    "server)"
)
_REFUSED = ("a password in the DSN is refused: secrets are never stored in the config file. "
            f"Remove it and {PASSWORD_FIX}")
_FORMS = "a PostgreSQL DSN is postgresql://user@host:5432/db or key=value pairs"
_BLANKS = " \t\n\r\f\v"  # C isspace(), as libpq uses
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_PREFIXES = ("postgresql://", "postgres://")
_HOST = re.compile(r"[^:/?,]*")
_PORT = re.compile(r"[^/?,]*")


class DsnError(ValueError):
    """A DSN that cannot be used; ``secret`` is True when it (may) hold a password."""

    def __init__(self, message: str, *, secret: bool = False) -> None:
        super().__init__(message)
        self.secret = secret


@dataclass(frozen=True, slots=True)
class Dsn:
    """What a DSN sets (unset parts are empty / None; libpq's defaults apply to them)."""

    hosts: tuple[str, ...] = ()
    ports: tuple[int | None, ...] = ()
    user: str | None = None
    database: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def parse_dsn(text: str) -> Dsn:
    """Parse ``text`` like libpq; ``DsnError`` (never echoing ``text``) when it is unusable."""
    if not text.strip(_BLANKS):
        raise DsnError(f"is empty; {_FORMS}")
    if text.startswith(_URL_PREFIXES):
        pairs, port_may_be_password = _url_pairs(text)
    elif _SCHEME.match(text):
        raise DsnError(f"must start with postgresql:// or postgres:// ({_FORMS})")
    else:
        pairs, port_may_be_password = _keyword_pairs(text), False
    values = dict(pairs)  # a later setting overrides an earlier one, as in libpq
    hosts = tuple(values.pop("host").split(",")) if "host" in values else ()
    ports = (_ports(values.pop("port"), port_may_be_password) if "port" in values else ())
    if len(ports) > 1 and len(ports) != max(len(hosts), 1):
        raise DsnError(f"has {max(len(hosts), 1)} hosts but {len(ports)} ports "
                       "(give one port for all hosts, or one per host)")
    return Dsn(hosts, ports, values.pop("user", None), values.pop("dbname", None), values)


def _refuse_secret(key: str) -> None:
    if is_secret_name(key):
        raise DsnError(_REFUSED, secret=True)


def _decode(part: str) -> str:
    if "%" not in part:
        return part
    for match in _PERCENT.finditer(part):
        if match.group(1) is None:
            raise DsnError("has a '%' not followed by two hex digits (percent-encoding: "
                           "write '%40' for '@', '%25' for '%')")
        if match.group(1) == "00":
            raise DsnError("has the percent-escape %00 (a NUL byte), which is not allowed")
    try:
        return unquote(part, errors="strict")
    except UnicodeDecodeError:
        raise DsnError("has percent-escapes that are not UTF-8") from None


def _url_pairs(text: str) -> tuple[list[tuple[str, str]], bool]:
    """The settings of a ``postgresql://`` URL, and whether a bad port may be a password."""
    rest = text.split("://", 1)[1]
    offset = len(text) - len(rest)
    pairs: list[tuple[str, str]] = []
    stop = next((i for i, ch in enumerate(rest) if ch in "@/"), len(rest))
    if stop < len(rest) and rest[stop] == "@":
        user, colon, _ = rest[:stop].partition(":")
        if colon:
            raise DsnError(_REFUSED, secret=True)
        if user:
            pairs.append(("user", _decode(user)))
        rest, offset = rest[stop + 1:], offset + stop + 1
    hosts: list[str] = []
    ports: list[str] = []
    pos = 0
    while True:
        if rest.startswith("[", pos):
            end = rest.find("]", pos)
            if end < 0:
                raise DsnError("has '[' without the ']' that closes an IPv6 address "
                               f"(character {offset + pos + 1})")
            if end == pos + 1:
                raise DsnError(f"has an empty IPv6 address '[]' (character {offset + pos + 1})")
            hosts.append(rest[pos + 1:end])
            pos = end + 1
            if pos < len(rest) and rest[pos] not in ":/?,":
                raise DsnError(f"has an unexpected character after ']' (character "
                               f"{offset + pos + 1}; expected ':', '/', '?' or ',')")
        else:
            match = _HOST.match(rest, pos)
            assert match is not None  # the pattern matches the empty string
            hosts.append(match.group())
            pos = match.end()
        port = ""
        if rest.startswith(":", pos):
            match = _PORT.match(rest, pos + 1)
            assert match is not None
            port, pos = match.group(), match.end()
        ports.append(port)
        if not rest.startswith(",", pos):
            break
        pos += 1
    if any(hosts):
        pairs.append(("host", _decode(",".join(hosts))))
    if any(ports):
        pairs.append(("port", _decode(",".join(ports))))
    port_may_be_password = "@" in rest[pos:]
    if rest.startswith("/", pos):
        end = rest.find("?", pos)
        end = len(rest) if end < 0 else end
        if end > pos + 1:
            pairs.append(("dbname", _decode(rest[pos + 1:end])))
        pos = end
    if pos < len(rest):
        pairs.extend(_query_pairs(rest[pos + 1:]))
    return pairs, port_may_be_password


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pieces = query.split("&")
    if pieces and not pieces[-1]:
        pieces.pop()  # one trailing '&' is allowed
    for piece in pieces:  # refuse a password before reporting anything else
        _refuse_secret(_decode(piece.partition("=")[0]))
    pairs = []
    for number, piece in enumerate(pieces, 1):
        key, sep, value = piece.partition("=")
        if not sep or "=" in value:
            problem = "has no '='" if not sep else "has more than one '='"
            raise DsnError(f"query parameter {number} {problem} (write key=value pairs "
                           "joined by '&', percent-encoding '=' and '&' inside values)")
        key, value = _decode(key), _decode(value)
        if (key, value) == ("ssl", "true"):
            key, value = "sslmode", "require"
        pairs.append((key, value))
    return pairs


def _keyword_pairs(text: str) -> list[tuple[str, str]]:
    """``key=value`` pairs read as libpq's conninfo_parse reads them."""
    pairs: list[tuple[str, str]] = []
    pos, size = 0, len(text)
    while pos < size:
        if text[pos] in _BLANKS:
            pos += 1
            continue
        start = pos
        while pos < size and text[pos] != "=" and text[pos] not in _BLANKS:
            pos += 1
        key = text[start:pos]
        while pos < size and text[pos] in _BLANKS:
            pos += 1
        if pos >= size or text[pos] != "=":
            raise DsnError(f"has a word without '=' at character {start + 1} ({_FORMS})")
        if not key:
            raise DsnError(f"has '=' without a keyword before it at character {pos + 1}")
        _refuse_secret(key)
        pos += 1
        while pos < size and text[pos] in _BLANKS:
            pos += 1
        value: list[str] = []
        if pos < size and text[pos] == "'":
            quote = pos
            pos += 1
            while True:
                if pos >= size:
                    raise DsnError(f"has an unterminated quoted value starting at character "
                                   f"{quote + 1} (close it with ')")
                ch = text[pos]
                if ch == "\\" and pos + 1 < size:
                    value.append(text[pos + 1])
                    pos += 2
                    continue
                pos += 1
                if ch == "'":
                    break
                if ch != "\\":
                    value.append(ch)
        else:
            while pos < size and text[pos] not in _BLANKS:
                if text[pos] == "\\":
                    pos += 1
                    if pos < size:
                        value.append(text[pos])
                        pos += 1
                    continue
                value.append(text[pos])
                pos += 1
        pairs.append((key, "".join(value)))
    return pairs


def _ports(text: str, may_be_password: bool) -> tuple[int | None, ...]:
    ports: list[int | None] = []
    for part in text.split(","):
        if not part:
            ports.append(None)
            continue
        if not part.isascii() or not part.isdigit():
            hint = f"; if it is part of a password: {_REFUSED}" if may_be_password else ""
            raise DsnError(f"has a port that is not a number (allowed: 1..65535){hint}",
                           secret=may_be_password)
        number = int(part)
        if not 1 <= number <= 65535:
            shown = part if len(part) <= 6 else f"of {len(part)} digits"
            raise DsnError(f"port {shown} is out of range (allowed: 1..65535)")
        ports.append(number)
    return tuple(ports)
