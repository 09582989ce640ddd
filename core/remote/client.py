"""``RemoteBackend`` and ``RemoteResult``: the calls, their retries and breaker, and the
results (the package docstring says how)."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..breaker import CircuitBreaker
from ..clock import Clock, SystemClock
from ..config import Config, RemoteSettings, is_http_url, url_has_credentials
from ..discovery import LOCAL_NAME, find_console
from ..errors import (
    CircuitOpenError,
    ConfigError,
    ErrorKind,
    NetmonError,
    classify,
    kind_info,
)
from ..log import PREFIX_NETWORK, redact
from ..probes.base import describe
from ..retry import Retrier, RetryPolicy, strategy
from ..secrets import SecretRef, keyring_address
from .bodies import (
    _LABEL,
    _SAMPLE,
    _charset,
    _decode,
    _detail,
    _html_title,
    _is_state_answer,
    _looks_html,
    _one_line,
    _parse_json,
    _phrase,
    _snippet,
    _status_kind,
    _unescape_label,
    _www_authenticate_description,
)
from .shapes import (
    _CLEARED,
    _HEALTH,
    _HEALTH_DB,
    _RESET,
    _SNAPSHOT,
    _SUGGESTIONS,
    _shape_of,
    _ShapeError,
)

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
            # the OS keyring may block (a locked Secret Service, a prompt): not on the loop
            token = await asyncio.to_thread(self.token.get)
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
