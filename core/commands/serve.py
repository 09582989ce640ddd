"""``netmon serve``: the status and recovery endpoints, with the monitor running."""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import sys
from typing import TYPE_CHECKING

from .common import UsageError, command

if TYPE_CHECKING:
    import logging

    from ..config import Config

_LOGGER = "netmon.service"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def _one_line_errors(record: logging.LogRecord) -> bool:
    """Log filter: an exception record as one line (its type and message); the traceback
    only when netmon logs at DEBUG. A malformed request costs one line, not a page."""
    import logging

    error = record.exc_info[1] if record.exc_info else None
    if error is not None and not logging.getLogger(_LOGGER).isEnabledFor(logging.DEBUG):
        record.msg = f"{record.getMessage().rstrip()}: {type(error).__name__}: {error}"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def _route_uvicorn_logs(netmon: logging.Logger) -> None:
    """uvicorn's loggers write through netmon's redacting, ASCII-safe handlers only
    (access lines at DEBUG)."""
    import logging

    for name in _UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in netmon.handlers:
            logger.addHandler(handler)
        logger.addFilter(_one_line_errors)
        logger.propagate = False
        level = netmon.getEffectiveLevel()
        logger.setLevel(max(level, logging.WARNING) if name == "uvicorn.access" else level)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("serve", help="serve /health, /metrics and the recovery API")
    parser.add_argument("--host", help="address to bind (default [service] host, "
                        "127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, help="port (default [service] port, 8787)")
    parser.add_argument("--required-role", metavar="ROLE",
                        help="role claim a bearer token needs for /api/v1 (default "
                        "[service] required_role, service_role; empty: any valid token)")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")
    command(parser, run)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace, config: Config) -> int:
    settings = config.service
    args.host = args.host or settings.host
    args.port = settings.port if args.port is None else args.port
    role = settings.required_role if args.required_role is None else args.required_role
    if not 0 < args.port < 65536:
        raise UsageError("--port must be between 1 and 65535")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    import asyncio
    import logging

    from ..log import setup_logging
    from ..runtime import NetmonCore

    try:
        import uvicorn

        from ..service import create_app
    except ImportError:
        raise UsageError("netmon serve needs the service extra: "
                         "pip install \"netmon[service]\"") from None
    _route_uvicorn_logs(setup_logging(config.logging.level, to_file=config.logging.file))
    core = NetmonCore(config)
    if not _is_loopback(args.host) and (core.auth is None or not args.tls_cert):
        missing = " and ".join(m for m, gone in (("TLS", not args.tls_cert),
                                                 ("bearer auth", core.auth is None)) if gone)
        print(f"netmon: warning: serving on {args.host} without {missing}: anyone who can "
              "reach this port can read the status", file=sys.stderr)
    app = create_app(core, required_role=role or None, role_claim=settings.role_claim)
    server = uvicorn.Server(uvicorn.Config(
        app, host=args.host, port=args.port, log_config=None, lifespan="on",
        ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key, server_header=False))
    scheme = "https" if args.tls_cert else "http"
    logging.getLogger(_LOGGER).info("RESILIENT: serving on %s://%s:%d", scheme, args.host,
                                    args.port)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl+C after shutdown
        asyncio.run(server.serve())
    return 0
