"""The real libpq connection-string parser (``PQconninfoParse``) through ctypes.

Used as the reference the DSN parser in ``core.config`` is checked against: libpq is what
every PostgreSQL client tool uses to read ``postgresql://`` URLs and ``key=value`` strings.
"""

from __future__ import annotations

import ctypes
import ctypes.util


class LibpqNotAvailableError(RuntimeError):
    """No libpq shared library on this machine."""


class _Option(ctypes.Structure):
    _fields_ = [
        ("keyword", ctypes.c_char_p), ("envvar", ctypes.c_char_p),
        ("compiled", ctypes.c_char_p), ("val", ctypes.c_char_p),
        ("label", ctypes.c_char_p), ("dispchar", ctypes.c_char_p),
        ("dispsize", ctypes.c_int),
    ]


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("pq") or "libpq.so.5"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise LibpqNotAvailableError(f"libpq not found ({exc})") from None
    lib.PQconninfoParse.restype = ctypes.POINTER(_Option)
    lib.PQconninfoParse.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.PQconninfoFree.argtypes = [ctypes.POINTER(_Option)]
    lib.PQfreemem.argtypes = [ctypes.c_void_p]
    return lib


_LIB: ctypes.CDLL | None = None


def conninfo_parse(text: str) -> dict[str, str] | None:
    """The keywords libpq reads from ``text`` (only those set), or None if libpq refuses it."""
    global _LIB
    if _LIB is None:
        _LIB = _load()
    err = ctypes.c_void_p()
    options = _LIB.PQconninfoParse(text.encode("utf-8"), ctypes.byref(err))
    if not options:
        if err.value:
            _LIB.PQfreemem(err)
        return None
    out: dict[str, str] = {}
    try:
        i = 0
        while options[i].keyword is not None:
            if options[i].val is not None:
                out[options[i].keyword.decode()] = options[i].val.decode("utf-8", "replace")
            i += 1
    finally:
        _LIB.PQconninfoFree(options)
    return out
