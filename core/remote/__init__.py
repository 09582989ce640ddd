"""RemoteBackend: the client the console and CLI use to call a remote netmon-compatible backend.

Every endpoint method returns a ``RemoteResult`` and never raises for anything the network
or the server does: refused, reset, timed-out and breaker-rejected calls, HTML pages from a
proxy, non-JSON bodies and JSON of the wrong shape all become results. Bodies from backends
that are not ours are normalized to the shapes of ARCHITECTURE.md: missing fields are filled
(None / empty) and flagged, extra fields are kept and flagged (fields netmon's own core adds
are known and not flagged), and unknown vocabulary values are kept and flagged.

Decisions:

- ``GET /health``, ``/health/db`` and the comprehensive status: a 5xx whose body is a JSON
  object with a ``status`` is the answer, not an error (the backend is reachable and says it
  is unhealthy): ``ok=True`` with the data and the status code, and it is not retried.
- GETs use the ``http`` retry strategy: network kinds and 500/502/503/504 without such an
  answer body. POSTs (recovery actions) are retried only when the request certainly never
  left (connection refused, DNS failure), never after a reset, a timeout or a 5xx.
- The breaker (``remote:<name>``) guards one whole call including its retries, so one user
  action is one breaker outcome; only network kinds count as failures.
- Redirects are not followed (the bearer token must not travel elsewhere); a 3xx is
  reported with its ``Location``.
- The bearer token is read (keyring, then environment) on every call, sent only as
  ``Authorization: Bearer ...``, and scrubbed from bodies, data and messages.
"""


from .client import MAX_BODY_BYTES, MAX_RAW_CHARS, RemoteBackend, RemoteResult, resolve_remote
from .shapes import normalize_snapshot

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_RAW_CHARS",
    "RemoteBackend",
    "RemoteResult",
    "normalize_snapshot",
    "resolve_remote",
]
