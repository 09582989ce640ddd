"""netmon core: the asyncio resilience engine (no Qt here, ever).

Public names are re-exported below; a test keeps ``__all__`` and the modules in step.
"""

from .backoff import Backoff, Jitter
from .breaker import (
    BreakerState,
    BreakerStats,
    BreakerTransition,
    CircuitBreaker,
    counts_as_network_failure,
)
from .clock import Clock, SystemClock
from .config import (
    AuthSettings,
    BreakerSettings,
    Config,
    HistorySettings,
    LoggingSettings,
    MonitorSettings,
    RetrySettings,
    Target,
    config_path,
    load_config,
    parse_config,
    save_config,
)
from .errors import (
    NETWORK_KINDS,
    CircuitOpenError,
    ConfigError,
    ErrorKind,
    KindInfo,
    NetmonError,
    classify,
    http_status_for,
    is_network,
    kind_info,
)
from .events import Event
from .log import redact, setup_logging
from .retry import STRATEGIES, Retrier, RetryAttempt, RetryPolicy, is_retryable, resilient, strategy
from .secrets import SecretError, SecretRef

__all__ = [
    "NETWORK_KINDS",
    "STRATEGIES",
    "AuthSettings",
    "Backoff",
    "BreakerSettings",
    "BreakerState",
    "BreakerStats",
    "BreakerTransition",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "Config",
    "ConfigError",
    "ErrorKind",
    "Event",
    "HistorySettings",
    "Jitter",
    "KindInfo",
    "LoggingSettings",
    "MonitorSettings",
    "NetmonError",
    "Retrier",
    "RetryAttempt",
    "RetryPolicy",
    "RetrySettings",
    "SecretError",
    "SecretRef",
    "SystemClock",
    "Target",
    "classify",
    "config_path",
    "counts_as_network_failure",
    "http_status_for",
    "is_network",
    "is_retryable",
    "kind_info",
    "load_config",
    "parse_config",
    "redact",
    "resilient",
    "save_config",
    "setup_logging",
    "strategy",
]
