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

from __future__ import annotations

import functools
import html
import json
import logging
import random
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from .breaker import CircuitBreaker
from .clock import Clock, SystemClock
from .config import Config, RemoteSettings, is_http_url, url_has_credentials
from .discovery import LOCAL_NAME, find_console
from .errors import (
    CircuitOpenError,
    ConfigError,
    ErrorKind,
    NetmonError,
    classify,
    kind_for_http_status,
    kind_info,
)
from .log import PREFIX_NETWORK, redact
from .probes.base import describe
from .retry import Retrier, RetryPolicy, strategy
from .secrets import SecretRef, keyring_address

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_RAW_CHARS",
    "RemoteBackend",
    "RemoteResult",
    "normalize_snapshot",
    "resolve_remote",
]

_log = logging.getLogger("netmon.remote")

#: Bodies larger than this are not read (the result is a protocol error).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: ``RemoteResult.raw`` keeps at most this many characters of the body.
MAX_RAW_CHARS = 64 * 1024

_K = ErrorKind
_RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: POSTs are retried only for kinds that mean the request never left this machine.
_NEVER_SENT_KINDS = frozenset({
    _K.CONNECTION_REFUSED, _K.DNS_NOT_FOUND, _K.DNS_TEMPORARY, _K.DNS_NO_DATA,
    _K.DNS_FAILURE, _K.DNS_TIMEOUT,
})
_WARNED_INSECURE: set[tuple[str, str]] = set()
_TOKEN_OK = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class RemoteResult:
    """The outcome of one call to a remote backend (never an exception).

    ``data`` is the parsed, normalized body (for errors: the parsed JSON body, if any);
    ``raw`` the body text (at most ``MAX_RAW_CHARS``); ``problems`` lists shape warnings;
    ``attempts`` counts requests sent (0: refused locally, e.g. no token or breaker open).
    """

    ok: bool
    endpoint: str
    status_code: int | None = None
    data: Any = None
    raw: str | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (for ``--json`` output)."""
        return {
            "ok": self.ok, "endpoint": self.endpoint, "status_code": self.status_code,
            "data": self.data, "raw": self.raw,
            "error_kind": str(self.error_kind) if self.error_kind else None,
            "error": self.error, "problems": list(self.problems),
            "elapsed_ms": round(self.elapsed_ms, 3), "attempts": self.attempts,
        }


# --- shapes ------------------------------------------------------------------------------
class _ShapeError(Exception):
    """The body is JSON of the wrong type (e.g. a list where an object is expected)."""


@dataclass(frozen=True)
class _Shape:
    """Expected keys of one JSON object and how to normalize them."""

    fields: tuple[str, ...]
    known: frozenset[str] = frozenset()          # extras netmon itself sends: not flagged
    optional: Mapping[str, Any] = field(default_factory=dict)  # filled silently when absent
    aliases: Mapping[str, str] = field(default_factory=dict)
    vocab: Mapping[str, frozenset[Any]] = field(default_factory=dict)
    objects: Mapping[str, _Shape] = field(default_factory=dict)  # nested objects
    fill: frozenset[str] = frozenset()           # nested objects filled (not None) if missing
    lists: Mapping[str, _Shape] = field(default_factory=dict)    # lists of entries
    maps: frozenset[str] = frozenset()           # free-form objects ({} when missing)
    label: str = "name"                          # key naming an entry in messages


_STATES = frozenset({"closed", "open", "half_open", "forced_open"})
_TARGET = _Shape(
    ("name", "kind", "status", "latency_ms", "phases", "error_kind", "error", "checked_at",
     "success_rate"),
    known=frozenset({"reason", "latency_p50_ms", "latency_p95_ms", "paused", "missed",
                     "breaker", "resolvers"}),
    aliases={"state": "status", "type": "kind", "latency": "latency_ms",
             "error_type": "error_kind", "last_checked": "checked_at"},
    vocab={"status": frozenset({"up", "degraded", "down", "unknown"}),
           "kind": frozenset({"dns", "tcp", "http", "postgres", "supabase", "icmp",
                                "gateway"})},
    objects={"success_rate": _Shape(("5m", "1h", "24h"))},
    fill=frozenset({"success_rate"}),
    maps=frozenset({"phases"}),
)
_BREAKER = _Shape(
    ("name", "state", "consecutive_failures", "failure_threshold", "reset_timeout_s",
     "opened_at", "retry_at", "calls", "failures", "rejected"),
    aliases={"status": "state", "reset_timeout": "reset_timeout_s",
             "threshold": "failure_threshold"},
    vocab={"state": _STATES},
)
_SUGGESTION = _Shape(
    ("id", "severity", "title", "detail", "action"),
    known=frozenset({"target"}),
    aliases={"level": "severity", "message": "detail", "description": "detail"},
    vocab={"severity": frozenset({"info", "warning", "critical"}),
           "action": frozenset({None, "reset_breaker", "clear_auth_cache",
                                "reconnect_database", "probe_all", "probe_now", "diagnose"})},
    label="id",
)
_AUTH = _Shape(
    ("cached_tokens", "failed_tokens", "hits", "misses", "offline_validations"),
    known=frozenset({"failed_attempts", "remote", "local", "offline", "refused", "evicted",
                     "breaker"}),
)
_DB_KNOWN = frozenset({"acquire_wait_p95_ms", "last_error_kind", "last_error", "error_kind",
                       "breaker", "next_attempt_at"})
_POOL = _Shape(("size", "idle", "in_use", "max"))
_DATABASE = _Shape(
    ("status", "pool", "mode"), known=_DB_KNOWN,
    vocab={"status": frozenset({"up", "degraded", "down"}),
           "mode": frozenset({"normal", "emergency"})},
    objects={"pool": _POOL}, fill=frozenset({"pool"}),
)
_OVERALL = frozenset({"healthy", "degraded", "unhealthy", "unknown"})
_SNAPSHOT = _Shape(
    ("status", "http_status", "generated_at", "targets", "breakers", "auth", "database",
     "suggestions"),
    optional={"conditions": []},
    known=frozenset({"reason"}),
    aliases={"checks": "targets", "timestamp": "generated_at", "status_code": "http_status"},
    vocab={"status": _OVERALL},
    objects={"auth": _AUTH, "database": _DATABASE},
    lists={"targets": _TARGET, "breakers": _BREAKER, "suggestions": _SUGGESTION},
)
_HEALTH = _Shape(
    ("status", "checks", "suggestions"),
    optional={"generated_at": None, "conditions": []},
    aliases={"targets": "checks"},
    vocab={"status": _OVERALL},
    lists={"checks": _TARGET, "suggestions": _SUGGESTION},
)
_HEALTH_DB = _Shape(
    ("status", "mode", "pool", "breaker", "probe"),
    known=_DB_KNOWN - {"breaker"},
    vocab=_DATABASE.vocab,
    objects={"pool": _POOL, "breaker": _BREAKER, "probe": _TARGET},
    fill=frozenset({"pool"}),
)
_SUGGESTIONS = _Shape(("suggestions",), lists={"suggestions": _SUGGESTION})
_RESET = _Shape(
    ("breakers",), known=frozenset({"ok", "reason"}),
    lists={"breakers": _Shape(("name", "before", "after"),
                              vocab={"before": _STATES, "after": _STATES})},
)
_CLEARED = _Shape(
    ("cleared",), known=frozenset({"before", "after", "note", "ok", "reason"}),
    objects={"cleared": _Shape(("cached", "failed"))}, fill=frozenset({"cleared"}),
)


def _canon(key: str) -> str:
    """``latencyMs`` / ``Latency-MS`` -> ``latency_ms``."""
    key = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key)
    return key.lower().replace("-", "_").replace(" ", "_")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _empty(shape: _Shape) -> dict[str, Any]:
    """An object of ``shape`` with every field unset (no problems reported)."""
    out: dict[str, Any] = {}
    for key in shape.fields:
        if key in shape.lists:
            out[key] = []
        elif key in shape.maps:
            out[key] = {}
        elif key in shape.objects and key in shape.fill:
            out[key] = _empty(shape.objects[key])
        else:
            out[key] = None
    out.update({k: _copy_default(v) for k, v in shape.optional.items()})
    return out


def _copy_default(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) \
        else value


def _normalize(value: Any, shape: _Shape, where: str, problems: list[str]) -> dict[str, Any]:
    """``value`` as an object of ``shape``; problems are appended, never raised."""
    at = f" in {where}" if where else ""
    if not isinstance(value, dict):
        problems.append(f"expected an object{at}, got {_type_name(value)}")
        return _empty(shape)
    expected = set(shape.fields) | set(shape.optional)
    source: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, item in value.items():
        if key in expected:
            source[key] = item
            continue
        name = shape.aliases.get(_canon(key), _canon(key))
        if name in expected and name not in value and name not in source:
            problems.append(f"field {key!r} read as {name!r}{at}")
            source[name] = item
        else:
            extras[key] = item
    out: dict[str, Any] = {}
    for key in shape.fields:
        if key not in source:
            problems.append(f"missing field {key!r}{at}")
            out[key] = _empty(shape)[key]
            continue
        out[key] = _field(key, source[key], shape, where, problems)
    for key, default in shape.optional.items():
        out[key] = source[key] if key in source else _copy_default(default)
    for key, item in extras.items():
        if key not in shape.known:
            problems.append(f"extra field {key!r}{at}")
        out[key] = item
    return out


def _field(key: str, item: Any, shape: _Shape, where: str, problems: list[str]) -> Any:
    sub = f"{where}.{key}" if where else key
    if key in shape.lists:
        if not isinstance(item, list):
            problems.append(f"expected a list in {sub}, got {_type_name(item)}")
            return []
        entry = shape.lists[key]
        out = []
        for i, element in enumerate(item):
            label = element.get(entry.label) if isinstance(element, dict) else None
            here = f"{sub}[{i}]" + (f" ({label})" if isinstance(label, str) else "")
            if not isinstance(element, dict):
                problems.append(f"expected an object in {here}, got {_type_name(element)}; "
                                "skipped")
                continue
            out.append(_normalize(element, entry, here, problems))
        return out
    if key in shape.objects:
        if item is None:
            return None
        return _normalize(item, shape.objects[key], sub, problems)
    if key in shape.maps and not isinstance(item, dict):
        problems.append(f"expected an object in {sub}, got {_type_name(item)}")
        return {}
    allowed = shape.vocab.get(key)
    if allowed is not None and (not isinstance(item, str | None) or item not in allowed):
        problems.append(f"unknown {key} value {item!r} in {where or 'the answer'}")
    return item


def _shape_of(shape: _Shape) -> Callable[[Any], tuple[dict[str, Any], list[str]]]:
    def normalize(data: Any) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(data, dict):
            raise _ShapeError(f"expected a JSON object, got {_type_name(data)}"
                              + (f" ({len(data)} items)" if isinstance(data, list) else ""))
        problems: list[str] = []
        return _normalize(data, shape, "", problems), problems
    return normalize


def normalize_snapshot(data: Any) -> tuple[dict[str, Any], list[str]]:
    """``data`` as the status snapshot of ARCHITECTURE.md, and the problems found.

    Every snapshot key is present (plus ``conditions``, as ``core.status.build`` gives);
    entries of ``targets``, ``breakers`` and ``suggestions`` get their keys normalized
    (``latencyMs`` -> ``latency_ms``, a few common aliases), missing fields become None or
    empty and are flagged, extra fields are kept and flagged, unknown vocabulary values are
    kept and flagged. Anything but an object gives the empty snapshot and a problem.
    """
    problems: list[str] = []
    return _normalize(data, _SNAPSHOT, "", problems), problems


# --- endpoints ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Endpoint:
    method: str
    path: str
    bearer: bool
    normalize: Callable[[Any], tuple[Any, list[str]]] | None  # None: Prometheus text
    state_answer: bool = False  # a 5xx with a {"status": ...} body is the answer

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


_API = "/api/v1/system"
_HEALTH_EP = _Endpoint("GET", "/health", False, _shape_of(_HEALTH), True)
_HEALTH_DB_EP = _Endpoint("GET", "/health/db", False, _shape_of(_HEALTH_DB), True)
_STATUS_EP = _Endpoint("GET", f"{_API}/status/comprehensive", True, _shape_of(_SNAPSHOT), True)
_SUGGESTIONS_EP = _Endpoint("GET", f"{_API}/recovery/suggestions", True,
                            _shape_of(_SUGGESTIONS))
_RESET_EP = _Endpoint("POST", f"{_API}/recovery/circuit-breaker/reset", True,
                      _shape_of(_RESET))
_CLEAR_EP = _Endpoint("POST", f"{_API}/recovery/auth-cache/clear", True, _shape_of(_CLEARED))
_METRICS_EP = _Endpoint("GET", "/metrics", False, None)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes
    too_large: bool


class _RetryableStatusError(NetmonError):
    """A 5xx worth retrying; carries the answer so the last one can be reported."""

    kind = ErrorKind.HTTP_SERVER_ERROR

    def __init__(self, answer: _Answer) -> None:
        super().__init__(f"HTTP {answer.status}")
        self.answer = answer


# --- the client --------------------------------------------------------------------------
class RemoteBackend:
    """A remote netmon-compatible backend: health, status and recovery endpoints.

    Use ``async with RemoteBackend.from_settings(...) as remote:`` or call ``aclose()``.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        token: SecretRef | None = None,
        verify_tls: bool = True,
        ca_file: str = "",
        timeout_s: float = 10.0,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        breaker: CircuitBreaker | None = None,
        get_policy: RetryPolicy | None = None,
    ) -> None:
        if url_has_credentials(url):
            raise ConfigError("credentials never go in the URL; use a keyring entry or "
                              "--token-env for the API token", field="remote url")
        if not is_http_url(url):
            raise ConfigError(f"{redact(url)!r} is not an http(s) URL with a host",
                              field="remote url")
        parts = urlsplit(url)
        self.name = name
        self.base_url = url.rstrip("/")
        self.token = token or SecretRef()
        self.timeout_s = timeout_s
        self.clock: Clock = clock or SystemClock()
        self.breaker = breaker or CircuitBreaker(f"remote:{name}", clock=self.clock)
        rng = rng or random.Random()
        get = get_policy or strategy("http", attempt_timeout=3 * timeout_s)
        post = strategy("http", attempt_timeout=3 * timeout_s, retry_on=_NEVER_SENT_KINDS)
        self._retriers = {"GET": Retrier(get, clock=self.clock, rng=rng),
                          "POST": Retrier(post, clock=self.clock, rng=rng)}
        tls: ssl.SSLContext | bool = False
        if verify_tls:
            try:
                tls = ssl.create_default_context(cafile=ca_file or None)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(f"cannot use CA file {ca_file!r}: {exc}",
                                  field="ca_file") from None
        elif parts.scheme == "https" and (name, self.base_url) not in _WARNED_INSECURE:
            _WARNED_INSECURE.add((name, self.base_url))
            _log.warning("%s remote '%s': TLS certificate verification is OFF for %s; "
                         "anyone on the path can read the API token", PREFIX_NETWORK,
                         name, self.base_url)
        self._client = httpx.AsyncClient(
            base_url=self.base_url, verify=tls, trust_env=True, follow_redirects=False,
            timeout=httpx.Timeout(timeout_s), headers={"User-Agent": "netmon-remote"},
        )

    @classmethod
    def from_settings(cls, settings: RemoteSettings, *, clock: Clock | None = None,
                      rng: random.Random | None = None) -> RemoteBackend:
        """The backend configured by a ``[[remotes]]`` entry."""
        return cls(settings.name, settings.url, token=settings.token,
                   verify_tls=settings.verify_tls, ca_file=settings.ca_file,
                   timeout_s=settings.timeout_s, clock=clock, rng=rng)

    async def aclose(self) -> None:
        """Close the HTTP client (idempotent)."""
        await self._client.aclose()

    async def __aenter__(self) -> RemoteBackend:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"RemoteBackend({self.name!r}, {self.base_url!r})"

    # --- endpoints -------------------------------------------------------------------------
    async def health(self) -> RemoteResult:
        """``GET /health``: {status, checks, suggestions}; a 503/500 health body is ok."""
        return await self._call(_HEALTH_EP)

    async def health_db(self) -> RemoteResult:
        """``GET /health/db``: database probe, breaker and pool figures."""
        return await self._call(_HEALTH_DB_EP)

    async def status(self) -> RemoteResult:
        """The comprehensive status snapshot, normalized (``normalize_snapshot``)."""
        return await self._call(_STATUS_EP)

    async def suggestions(self) -> RemoteResult:
        """``{"suggestions": [...]}``."""
        return await self._call(_SUGGESTIONS_EP)

    async def reset_breaker(self, name: str | None = None) -> RemoteResult:
        """Reset every breaker of the backend, or the one named: ``{"breakers": [...]}``."""
        return await self._call(_RESET_EP, {"name": name} if name is not None else None)

    async def clear_auth_cache(self) -> RemoteResult:
        """Clear the backend's cached and failed tokens: ``{"cleared": {...}}``."""
        return await self._call(_CLEAR_EP)

    async def metrics(self) -> RemoteResult:
        """``GET /metrics``: data = {"samples": [{name, labels, value}], "types": {...}}."""
        return await self._call(_METRICS_EP)

    # --- machinery -------------------------------------------------------------------------
    async def _call(self, ep: _Endpoint, params: dict[str, str] | None = None) -> RemoteResult:
        started = time.perf_counter()
        headers = {"Accept": "application/json" if ep.normalize else "text/plain"}
        token: str | None = None
        if ep.bearer:
            token = self.token.get()
            token = token.strip() if token else None
            problem = self._token_problem(token)
            if problem is not None:
                return self._finish(ep, started, 0, token, error_kind=_K.AUTH_FAILED,
                                    error=problem)
            headers["Authorization"] = f"Bearer {token}"
        attempts = 0

        async def once() -> _Answer:
            nonlocal attempts
            attempts += 1
            return await self._send(ep, params, headers)

        try:
            answer = await self.breaker.call(self._retriers[ep.method].call, once)
        except _RetryableStatusError as exc:
            answer = exc.answer
        except CircuitOpenError as exc:
            return self._finish(ep, started, attempts, token, error_kind=_K.CIRCUIT_OPEN,
                                error=f"{exc}: calls to this backend are paused after "
                                      "repeated network failures")
        except (httpx.HTTPError, httpx.InvalidURL, OSError, TimeoutError, NetmonError) as exc:
            return self._finish(ep, started, attempts, token, error_kind=classify(exc),
                                error=self._network_message(ep, exc, attempts))
        return self._interpret(ep, answer, started, attempts, token)

    async def _send(self, ep: _Endpoint, params: dict[str, str] | None,
                    headers: dict[str, str]) -> _Answer:
        request = self._client.build_request(ep.method, ep.path, params=params, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            chunks: list[bytes] = []
            size = 0
            too_large = False
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    too_large = True
                    break
                chunks.append(chunk)
        finally:
            await response.aclose()
        answer = _Answer(response.status_code, response.reason_phrase, response.headers,
                         b"".join(chunks), too_large)
        if (ep.method == "GET" and answer.status in _RETRY_STATUSES
                and not (ep.state_answer and _is_state_answer(_parse_json(answer.body)[0]))):
            raise _RetryableStatusError(answer)
        return answer

    def _token_problem(self, token: str | None) -> str | None:
        if token is None:
            ref = self.token
            if not ref:
                return (f"no API token for remote '{self.name}': set token_keyring or "
                        "token_env in its [[remotes]] entry, or pass --token-env VAR")
            how = []
            if ref.keyring:
                how.append("keyring set " + " ".join(keyring_address(ref.keyring)))
            if ref.env:
                how.append(f"set the environment variable {ref.env}")
            return (f"no API token for remote '{self.name}': none found in "
                    f"{ref.describe()}; {' or '.join(how)}")
        if not _TOKEN_OK.match(token):
            return (f"the API token in {self.token.describe()} contains spaces, line "
                    "breaks or non-ASCII characters and cannot be sent; store it again")
        return None

    def _network_message(self, ep: _Endpoint, exc: BaseException, attempts: int) -> str:
        kind = classify(exc)
        if kind is _K.TIMEOUT:
            text = f"no answer within {self.timeout_s:g} s ({type(exc).__name__})"
        else:
            text = describe(exc)
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        return f"{kind_info(kind).title} calling {self.base_url}{ep.path}: {text}{tries}"

    def _interpret(self, ep: _Endpoint, answer: _Answer, started: float, attempts: int,
                   token: str | None) -> RemoteResult:
        body = answer.body.replace(token.encode(), b"***") if token else answer.body
        charset = _charset(answer.headers.get("content-type", ""))
        text = _decode(body, charset)
        code = answer.status
        finish = functools.partial(self._finish, ep, started, attempts, token,
                                   status_code=code, raw=text)
        if answer.too_large:
            return finish(error_kind=_K.PROTOCOL_ERROR, raw=None,
                          error=f"HTTP {code}: the answer is larger than "
                                f"{MAX_BODY_BYTES // (1024 * 1024)} MiB; not read")
        is_html = _looks_html(answer.headers, text)
        parsed, parse_error = _parse_json(body) if not is_html else (None, "an HTML page")
        if code >= 300 and not (code >= 500 and ep.state_answer and _is_state_answer(parsed)):
            return finish(data=parsed, error_kind=_status_kind(code),
                          error=self._http_error(ep, answer, parsed, text, is_html))
        if code < 200:
            return finish(error_kind=_K.PROTOCOL_ERROR, error=f"unexpected HTTP {code}")
        if ep.normalize is None:
            return _metrics_result(finish, text, is_html)
        if parse_error == "empty body" and ep.method == "POST":
            return finish(ok=True, problems=[f"HTTP {code} with an empty body: the action was "
                                             "accepted but its result is not known"])
        if parse_error is not None:
            what = (f"an HTML page: {_html_title(text)}" if is_html
                    else f"text ({parse_error}): {_snippet(text)}")
            return finish(error_kind=_K.PROTOCOL_ERROR,
                          error=f"HTTP {code} from {ep.path}: expected JSON, got {what}")
        try:
            data, problems = ep.normalize(parsed)
        except _ShapeError as exc:
            return finish(data=parsed, error_kind=_K.PROTOCOL_ERROR,
                          error=f"HTTP {code} from {ep.path}: {exc}")
        return finish(ok=True, data=data, problems=problems)

    def _http_error(self, ep: _Endpoint, answer: _Answer, parsed: Any, text: str,
                    is_html: bool) -> str:
        code = answer.status
        head = f"HTTP {code} {_phrase(code, answer.reason)}"
        detail = _detail(parsed)
        if is_html:
            return f"{head} from a proxy (HTML page): {_html_title(text)}"
        if 300 <= code < 400:
            where = answer.headers.get("location")
            return (f"{head}: redirected to {where or 'an unnamed location'}; redirects are "
                    "not followed, configure the final URL")
        if code == 401 and ep.bearer:
            reason = _www_authenticate_description(answer.headers) or detail or "no reason given"
            return f"the token was refused ({reason}); check the token in {self.token.describe()}"
        if code == 403 and ep.bearer:
            return ("the token is valid but lacks the required role"
                    + (f" ({detail})" if detail else ""))
        if code in (401, 407):
            return f"{head}: the server or a proxy asks for authentication" + (
                f" ({detail})" if detail else "")
        if code == 404 and not detail:
            return f"{head}: {ep.path} does not exist here; is this a netmon-compatible backend?"
        return f"{head}: {detail or _snippet(text) or 'empty body'}"

    def _finish(self, ep: _Endpoint, started: float, attempts: int, token: str | None, *,
                ok: bool = False, status_code: int | None = None, data: Any = None,
                raw: str | None = None, error_kind: ErrorKind | None = None,
                error: str | None = None, problems: list[str] | None = None) -> RemoteResult:
        if raw is not None:  # the body as received, less our token (no regex pass: it is big)
            raw = raw.replace(token, "***") if token else raw
            if len(raw) > MAX_RAW_CHARS:
                raw = raw[:MAX_RAW_CHARS] + f"\n... [truncated at {MAX_RAW_CHARS} characters]"
        if error is not None:
            error = redact(_one_line(error.replace(token, "***") if token else error))
        result = RemoteResult(ok=ok, endpoint=ep.label, status_code=status_code, data=data,
                              raw=raw, error_kind=error_kind, error=error,
                              problems=problems or [],
                              elapsed_ms=(time.perf_counter() - started) * 1000,
                              attempts=attempts)
        if not ok:
            _log.info("%s remote '%s' %s failed (%s): %s", PREFIX_NETWORK, self.name,
                      ep.label, error_kind, error)
        return result


# --- helpers -----------------------------------------------------------------------------
def _is_state_answer(parsed: Any) -> bool:
    """A JSON object with a string ``status``: the backend reporting its own state."""
    return isinstance(parsed, dict) and isinstance(parsed.get("status"), str)


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    if not body.strip():
        return None, "empty body"
    try:
        return json.loads(body), None
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        return None, str(exc).split(":")[0]


_LABEL_ESCAPES = re.compile(r"\\(.)")


def _unescape_label(value: str) -> str:
    """Prometheus label escapes (\\\\, \\", \\n) only; anything else is kept as written."""
    if "\\" not in value:
        return value
    return _LABEL_ESCAPES.sub(
        lambda m: {"n": "\n", "\\": "\\", '"': '"'}.get(m.group(1), m.group(0)), value)


def _decode(body: bytes, charset: str) -> str:
    """``body`` as text; a charset that cannot decode falls back to UTF-8 with replacements."""
    try:
        return body.decode(charset, errors="replace")
    except (UnicodeError, LookupError):
        return body.decode("utf-8", errors="replace")


def _charset(content_type: str) -> str:
    match = re.search(r"charset=\"?([\w.-]+)", content_type, re.IGNORECASE)
    if match:
        try:
            "".encode(match.group(1))
            return match.group(1)
        except LookupError:
            pass
    return "utf-8"


def _looks_html(headers: httpx.Headers, text: str) -> bool:
    if "html" in headers.get("content-type", "").lower():
        return True
    start = text.lstrip()[:15].lower()
    return start.startswith(("<!doctype html", "<html"))


def _html_title(text: str) -> str:
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.IGNORECASE | re.DOTALL)
        if match:
            title = _one_line(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))))
            if title:
                return title
    return "no title"


def _detail(parsed: Any) -> str | None:
    """A readable reason from an error body: FastAPI ``detail``, RFC 7807, or ``error``."""
    if not isinstance(parsed, dict):
        return None
    detail = parsed.get("detail")
    if isinstance(detail, str):
        title = parsed.get("title")
        return f"{title}: {detail}" if isinstance(title, str) else detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = item.get("loc")
                where = ".".join(str(p) for p in loc) if isinstance(loc, list) else None
                msg = item.get("msg") or item.get("message") or json.dumps(item)[:200]
                parts.append(f"{where}: {msg}" if where else str(msg))
            else:
                parts.append(str(item))
        return "; ".join(parts) or None
    if detail is not None:
        return json.dumps(detail)[:300]
    for key in ("message", "error_description", "error", "title"):
        value = parsed.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    return None


def _www_authenticate_description(headers: httpx.Headers) -> str | None:
    challenge = headers.get("www-authenticate", "")
    match = re.search(r'error_description="([^"]*)"', challenge)
    if match:
        return match.group(1)
    match = re.search(r'error="([^"]*)"', challenge)
    return match.group(1) if match else None


def _status_kind(code: int) -> ErrorKind:
    return kind_for_http_status(code) or _K.PROTOCOL_ERROR  # a 1xx/2xx/3xx where it is wrong


def _phrase(code: int, reason: str) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return reason or "Unknown"


def _one_line(text: str, limit: int = 500) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(text: str) -> str:
    return _one_line(text, 200)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(\s+-?\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def _metrics_result(finish: Callable[..., RemoteResult], text: str,
                    is_html: bool) -> RemoteResult:
    if is_html:
        return finish(error_kind=_K.PROTOCOL_ERROR,
                      error=f"expected Prometheus text, got an HTML page: {_html_title(text)}")
    samples: list[dict[str, Any]] = []
    types: dict[str, str] = {}
    bad: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) == 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        match = _SAMPLE.match(line)
        try:
            value = float(match.group(3)) if match else None
        except ValueError:
            value = None
        if match is None or value is None:
            bad.append(f"line {number} is not a Prometheus sample: {_snippet(line)}")
            continue
        labels = {k: _unescape_label(v) for k, v in _LABEL.findall(match.group(2) or "")}
        samples.append({"name": match.group(1), "labels": labels, "value": value})
    if bad and not samples:
        return finish(error_kind=_K.PROTOCOL_ERROR,
                      error=f"not Prometheus text format: {bad[0]}")
    problems = bad[:5] + ([f"... and {len(bad) - 5} more bad lines"] if len(bad) > 5 else [])
    return finish(ok=True, data={"samples": samples, "types": types}, problems=problems)


def resolve_remote(config: Config, name_or_url: str, token_env: str | None = None, *,
                   clock: Clock | None = None, rng: random.Random | None = None
                   ) -> RemoteBackend:
    """A configured remote by name, or a bare http(s) URL (token from ``token_env``).

    ``local`` (unless a remote is called so) is the console running on this machine, when
    it serves its endpoints (``core.discovery``). ``token_env`` (the CLI's ``--token-env``)
    replaces a configured remote's token source.
    ``ConfigError`` when the name is unknown and is not a URL.
    """
    for settings in config.remotes:
        if settings.name == name_or_url:
            backend = RemoteBackend.from_settings(settings, clock=clock, rng=rng)
            if token_env:
                backend.token = SecretRef(env=token_env)
            return backend
    if name_or_url == LOCAL_NAME:
        url = find_console()
        if url is None:
            raise ConfigError("no console on this machine serves its endpoints",
                              field="remote", allowed="start the console with [service] "
                              "console = true, or name a [[remotes]] entry or a URL")
        return RemoteBackend(LOCAL_NAME, url,
                             token=SecretRef(env=token_env) if token_env else None,
                             clock=clock, rng=rng)
    if is_http_url(name_or_url):
        return RemoteBackend(urlsplit(name_or_url).netloc.rpartition("@")[2], name_or_url,
                             token=SecretRef(env=token_env) if token_env else None,
                             clock=clock, rng=rng)
    known = ", ".join(r.name for r in config.remotes) or "none configured"
    raise ConfigError(f"{name_or_url!r} is neither a configured remote nor an http(s) URL",
                      field="remote", allowed=f"{known}, or http(s)://host[:port]")
