"""The status rules: what one probe result makes of a target's status.

``down_after`` / ``up_after`` and the latency threshold come from ``[monitor]`` (a target's
own ``latency_threshold_ms`` wins):

- ``unknown`` until the first result;
- ``up`` on success within the latency threshold (after ``up_after`` successes when
  coming back from a failure);
- ``degraded`` when slow, when only the OS resolver fails while direct resolvers answer,
  or while failing fewer than ``down_after`` times in a row;
- ``down`` after ``down_after`` consecutive failures.
"""

from __future__ import annotations

from .config import MonitorSettings
from .errors import ErrorKind
from .probes.base import ProbeResult
from .target_state import TargetState, TargetStatus

__all__ = ["judge_status"]


def judge_status(state: TargetState, result: ProbeResult,
                 settings: MonitorSettings) -> tuple[TargetStatus, str]:
    """The status ``result`` gives ``state`` and why; advances its success/failure streaks."""
    if result.ok:
        state.consecutive_failures = 0
        state.consecutive_successes += 1
        threshold = state.target.latency_threshold_ms or settings.latency_threshold_ms
        latency = result.latency_ms or 0.0
        if result.degraded:
            return TargetStatus.DEGRADED, f"partial: {_who_said_what(result)}"
        if latency > threshold:
            return TargetStatus.DEGRADED, f"slow: {latency:.0f} ms > {threshold:.0f} ms"
        recovering = state.status in (TargetStatus.DOWN, TargetStatus.DEGRADED)
        if recovering and state.consecutive_successes < settings.up_after:
            return TargetStatus.DEGRADED, (
                f"recovering: {state.consecutive_successes} of {settings.up_after} "
                "successes")
        return TargetStatus.UP, f"ok in {latency:.0f} ms"
    state.consecutive_successes = 0
    state.consecutive_failures += 1
    kind = result.error_kind or ErrorKind.UNKNOWN
    said = result.details.get("summary")
    seen = f": {said}" if said else ""
    if result.degraded:
        return TargetStatus.DEGRADED, f"partial: {_who_said_what(result)}"
    if state.consecutive_failures >= settings.down_after:
        return TargetStatus.DOWN, (
            f"{_failures(state.consecutive_failures)} ({kind}){seen}")
    return TargetStatus.DEGRADED, (
        f"failing ({kind}): {state.consecutive_failures} of {settings.down_after} "
        f"before down{seen}")


def _failures(count: int) -> str:
    return "1 failure" if count == 1 else f"{count} consecutive failures"


def _who_said_what(result: ProbeResult) -> str:
    summary = result.details.get("summary")
    return str(summary) if summary else (result.error or str(result.error_kind))
