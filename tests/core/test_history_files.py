"""The history file under locks, read-only folders and damage: readers never move a file,
writers wait and keep results, only a corrupt file is moved aside."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.history import HistoryStore, HistoryUnavailableError
from core.probes.base import ProbeResult
from core.testing import FakeClock

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def result(i: int, target: str = "api") -> ProbeResult:
    return ProbeResult(target=target, kind="http", ok=i % 5 != 0, latency_ms=10.0 + i,
                       checked_at=T0 + timedelta(seconds=i))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=T0)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "history.sqlite3"


async def make_history(path: Path, clock: FakeClock, n: int) -> None:
    store = HistoryStore(path, clock=clock)
    await store.start()
    store.add_many(result(i) for i in range(n))
    await store.close()


def siblings(path: Path) -> list[str]:
    """Every file next to the database other than the database and its WAL/SHM files."""
    own = {path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"}
    return sorted(p.name for p in path.parent.iterdir() if p.name not in own)


def put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def content(path: Path) -> bytes:
    return path.read_bytes()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "netmon.history" and r.levelno >= logging.WARNING]


def hold(path: Path, *, journal: str = "wal") -> sqlite3.Connection:
    """Another connection holding an exclusive lock on ``path`` (as another process would)."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute(f"PRAGMA journal_mode={journal}")
    holder.execute("BEGIN EXCLUSIVE")
    return holder


def netmon(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, check=False)


def config_for(tmp_path: Path, history: Path) -> Path:
    path = tmp_path / "netmon.toml"
    path.write_text(f"[history]\npath = '{history}'\n[logging]\nfile = false\n")
    return path


# ----------------------------------------------------------------------------- readers


async def test_export_reads_a_write_locked_file_and_moves_nothing(
    tmp_path: Path, db_path: Path, clock: FakeClock,
) -> None:
    await make_history(db_path, clock, 30)
    holder = hold(db_path)
    try:
        done = await asyncio.to_thread(
            netmon, "--config", str(config_for(tmp_path, db_path)), "history", "export",
            "--format", "json", "--resolution", "raw", cwd=tmp_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 30
    assert "exported 30 row(s)" in done.stderr
    assert siblings(db_path) == []


async def test_reader_of_an_exclusively_locked_file_says_so_and_moves_nothing(
    db_path: Path, clock: FakeClock,
) -> None:
    await make_history(db_path, clock, 5)
    holder = hold(db_path, journal="delete")  # a rollback journal: readers are shut out too
    try:
        reader = HistoryStore(db_path, clock=clock, read_only=True, busy_timeout=0.05)
        with pytest.raises(HistoryUnavailableError, match="locked") as caught:
            await reader.start()
        assert str(db_path) in str(caught.value)
        await reader.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert siblings(db_path) == []


async def test_reader_never_creates_or_repairs(db_path: Path, clock: FakeClock,
                                               tmp_path: Path) -> None:
    missing = HistoryStore(db_path, clock=clock, read_only=True)
    with pytest.raises(HistoryUnavailableError, match="no history"):
        await missing.start()
    await missing.close()
    assert not db_path.parent.exists()

    put(db_path, b"not a database at all" * 100)
    broken = HistoryStore(db_path, clock=clock, read_only=True)
    with pytest.raises(HistoryUnavailableError, match="cannot read"):
        await broken.start()
    await broken.close()
    assert siblings(db_path) == [] and content(db_path) == b"not a database at all" * 100

    done = await asyncio.to_thread(netmon, "--config", str(config_for(tmp_path, db_path)),
                                   "history", "export", cwd=tmp_path)
    assert done.returncode == 3
    [line] = done.stderr.strip().splitlines()
    assert "cannot read" in line and str(db_path) in line and "Traceback" not in line


def _can_remount_read_only(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--fork", "sh", "-c",
         f"mount --bind {tmp_path} {tmp_path} && mount -o remount,bind,ro {tmp_path}"],
        capture_output=True, timeout=10, check=False)
    return probe.returncode == 0


async def test_export_from_a_read_only_file_system(tmp_path: Path, db_path: Path,
                                                  clock: FakeClock) -> None:
    if not _can_remount_read_only(tmp_path):
        reason = "needs root and `unshare --mount` to mount a read-only folder"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: this machine kind has both)", pytrace=False)
        pytest.skip(reason)
    await make_history(db_path, clock, 12)  # closed cleanly: no -wal/-shm files left
    config = config_for(tmp_path, db_path)
    folder = db_path.parent
    script = (f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
              f"touch {folder}/probe 2>/dev/null && echo WRITABLE; "
              f"exec {sys.executable} -m core --config {config} history export "
              "--format json --resolution raw")
    done = await asyncio.to_thread(
        subprocess.run, ["unshare", "--mount", "--fork", "sh", "-c", script],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ})
    assert "WRITABLE" not in done.stdout
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 12
    assert siblings(db_path) == []


# ----------------------------------------------------------------------------- writers


async def test_writer_waits_keeps_results_and_writes_them_when_free(
    db_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    await make_history(db_path, clock, 10)
    caplog.set_level(logging.WARNING, logger="netmon.history")
    holder = hold(db_path, journal="delete")
    try:
        store = HistoryStore(db_path, clock=clock, busy_timeout=0.05, flush_interval=0.02,
                             lock_retry=0.05)
        await store.start()
        assert store.moved_aside is None and store.path == db_path
        store.add_many(result(i) for i in range(10, 25))
        [message] = warnings(caplog)
        assert message.startswith("RESILIENT:") and "locked" in message
        assert str(db_path) in message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await store.flush()
    for _ in range(200):  # the writer retries every lock_retry seconds
        if await store.count() == 25:
            break
        await asyncio.sleep(0.02)
    assert await store.count() == 25
    await store.close()
    assert siblings(db_path) == []


async def test_writer_closing_while_locked_loses_nothing(db_path: Path,
                                                         clock: FakeClock) -> None:
    await make_history(db_path, clock, 3)
    holder = hold(db_path)
    try:
        store = HistoryStore(db_path, clock=clock, busy_timeout=0.05, lock_retry=0.05)
        await store.start()
        store.add_many(result(i) for i in range(3, 9))
        await store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not any("locked" in name for name in siblings(db_path))
    again = HistoryStore(db_path, clock=clock)  # the next writer takes in what was kept
    await again.start()
    try:
        assert await again.count() == 9
    finally:
        await again.close()
    assert siblings(db_path) == []


async def test_only_a_corrupt_file_is_moved_aside(db_path: Path, clock: FakeClock,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    put(db_path, b"garbage" * 1000)
    caplog.set_level(logging.WARNING, logger="netmon.history")
    store = HistoryStore(db_path, clock=clock)
    await store.start()
    await store.close()
    assert store.moved_aside is not None and content(store.moved_aside) == b"garbage" * 1000
    [message] = warnings(caplog)
    assert str(db_path) in message and str(store.moved_aside) in message


async def test_a_malformed_result_does_not_sink_the_results_kept_at_a_locked_close(
        db_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    await make_history(db_path, clock, 3)
    caplog.set_level(logging.WARNING, logger="netmon.history")
    bad = ProbeResult(target="bad", kind="http", ok=True, latency_ms=1.0, checked_at=T0,
                      phases={"dns": "fast"})  # type: ignore[dict-item]
    holder = hold(db_path)
    try:
        store = HistoryStore(db_path, clock=clock, busy_timeout=0.05, lock_retry=0.05)
        await store.start()
        store.add_many([result(3), bad, result(4)])
        await store.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert any("skipped a malformed result of 'bad'" in m for m in warnings(caplog))
    again = HistoryStore(db_path, clock=clock)  # the good kept results are taken in
    await again.start()
    try:
        assert await again.count() == 5
    finally:
        await again.close()
