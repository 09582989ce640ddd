"""A running core takes an edited config in place: targets added, changed, removed."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path

from core.config import BreakerSettings, Config, HistorySettings, MonitorSettings, Target
from core.history import Retention
from core.monitor import TargetStatus
from core.runtime import NetmonCore
from tests.support.http_server import HttpServer


def _config(*targets: Target, **sections: object) -> Config:
    return Config(targets=list(targets), history=HistorySettings(enabled=False),
                  **sections)  # type: ignore[arg-type]


async def test_added_changed_and_removed_targets_take_effect(http_server: HttpServer) -> None:
    http_server.route("/a", body="ok")
    http_server.route("/b", body="ok")
    http_server.route("/c", status=500, body="no")
    a = Target(name="a", kind="http", url=http_server.url_for("/a"))
    b = Target(name="b", kind="http", url=http_server.url_for("/b"))
    core = NetmonCore(_config(a, b))
    await core.start(schedule=False)
    try:
        await core.monitor.run_once()
        kept = core.monitor.states["a"]
        assert kept.status is TargetStatus.UP
        changed = dataclasses.replace(b, url=http_server.url_for("/c"))
        new = Target(name="n", kind="http", url=http_server.url_for("/a"))
        rebuilt = core.apply_config(_config(new, a, changed))
        assert rebuilt == ["n", "b"]
        assert list(core.monitor.states) == ["n", "a", "b"]  # the config's order
        assert core.monitor.states["a"] is kept  # unchanged: state and rates kept
        assert core.monitor.states["b"].status is TargetStatus.UNKNOWN  # measured anew
        assert set(core.breakers) == {"n", "a", "b"}
        await core.monitor.run_once()
        assert core.monitor.states["b"].last is not None
        assert core.monitor.states["b"].last.ok is False  # the new URL answers 500
        core.apply_config(_config(a))
        assert list(core.monitor.states) == ["a"] and set(core.breakers) == {"a"}
        assert core.monitor.memory.recent("b") == []
        assert core.status()["targets"][0]["name"] == "a"
    finally:
        await core.stop()


async def test_a_probe_of_a_removed_target_is_not_recorded(http_server: HttpServer) -> None:
    http_server.route("/slow", body="ok", delay=0.3)
    slow = Target(name="slow", kind="http", url=http_server.url_for("/slow"))
    core = NetmonCore(_config(slow))
    await core.start(schedule=False)
    seen: list[str] = []
    core.monitor.result_recorded.connect(lambda r: seen.append(r.target))
    try:
        probe = asyncio.ensure_future(core.monitor.probe_now("slow"))
        await asyncio.sleep(0.05)
        core.apply_config(_config())
        await probe
        assert seen == [] and core.monitor.states == {}
        assert core.monitor.memory.recent("slow") == []
    finally:
        await core.stop()


async def test_settings_apply_to_running_parts_and_new_targets_get_scheduled(
        http_server: HttpServer) -> None:
    http_server.route("/a", body="ok")
    core = NetmonCore(_config())  # start empty, as a first run does
    await core.start()
    try:
        a = Target(name="a", kind="http", url=http_server.url_for("/a"))
        core.apply_config(_config(a, monitor=MonitorSettings(interval_s=5, concurrency=2),
                                  breaker=BreakerSettings(failure_threshold=7)))
        assert core.breakers["a"].failure_threshold == 7
        assert core.monitor.states["a"].interval_s == 5
        for _ in range(100):  # scheduled due now: the running monitor probes it
            if core.monitor.states["a"].last is not None:
                break
            await asyncio.sleep(0.02)
        assert core.monitor.states["a"].status is TargetStatus.UP
    finally:
        await core.stop()


async def test_history_retention_comes_from_the_config_and_follows_edits(
        tmp_path: Path) -> None:
    settings = HistorySettings(path=str(tmp_path / "h.sqlite3"), raw_hours=6, minute_days=2,
                               hour_days=90)
    core = NetmonCore(Config(history=settings), with_database=False)
    assert core.history is not None
    assert core.history.retention == Retention(timedelta(hours=6), timedelta(days=2),
                                               timedelta(days=90))
    core.apply_config(Config(history=dataclasses.replace(settings, raw_hours=12)))
    assert core.history.retention.raw == timedelta(hours=12)
