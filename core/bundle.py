"""The support bundle: one zip an engineer can read instead of asking for six commands.

Inside: ``manifest.json`` (what is in it, sizes and SHA-256, what was left out and why),
``status.json``, ``environment.json``, ``history-24h-1m.csv``, ``diagnoses/<target>.txt``
and ``.json`` for every failing target, ``config.json`` (secrets only by reference name:
the config never holds a value), ``logs/*`` and ``versions.json``. Every text passes
through the log redaction filter (``core.log.redact``) before it is written.

The one call for the CLI (``netmon bundle``) and the console::

    manifest = await write_bundle(path, config=config, snapshot=status_snapshot)
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import platform
import re
import sys
import zipfile
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from .clock import Clock, SystemClock
from .config import Config
from .log import log_dir, redact, redact_data
from .probes.base import iso_utc
from .version import __version__

__all__ = ["BundleManifest", "write_bundle"]

_T = TypeVar("_T")
_MAX_LOG_BYTES = 2_000_000  # per log file: the newest part is kept
_MAX_DIAGNOSES = 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class BundleManifest:
    """What the bundle holds: ``files`` maps name -> {bytes, sha256}; ``left_out`` says
    what could not be included and why."""

    path: Path
    created_at: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the bundle's ``manifest.json``)."""
        return {"schema": "netmon.bundle/1", "created_at": self.created_at,
                "files": self.files, "left_out": self.left_out,
                "redaction": "every file passed through core.log.redact (the log filter)"}


class _Writer:
    def __init__(self, archive: zipfile.ZipFile, manifest: BundleManifest) -> None:
        self.archive, self.manifest = archive, manifest

    def text(self, name: str, text: str) -> None:
        data = redact(text).encode("utf-8")
        self.archive.writestr(name, data)
        self.manifest.files[name] = {"bytes": len(data),
                                     "sha256": hashlib.sha256(data).hexdigest()}

    def json(self, name: str, data: Any) -> None:
        self.text(name, json.dumps(redact_data(data), indent=2, ensure_ascii=True,
                                   default=str) + "\n")


async def write_bundle(
    path: str | Path, *, config: Config, snapshot: Mapping[str, Any] | None = None,
    probe: bool = False, system_nameservers: bool = True, timeout: float = 3.0,
    logs: Path | None = None, clock: Clock | None = None,
) -> BundleManifest:
    """Write the support bundle to ``path`` (a .zip); returns its manifest.

    ``snapshot`` is the status snapshot to include (the console passes its own; the CLI
    probes once). ``probe`` lets the environment check gateway/DNS reachability;
    ``system_nameservers`` lets the diagnoses ask this machine's DNS servers directly.
    """
    clock = clock or SystemClock()
    now = clock.now()
    out = Path(path)
    manifest = BundleManifest(out, iso_utc(now))
    from .diagnose import diagnose
    from .environment import collect_environment

    env_task = collect_environment(probe=probe, timeout=min(timeout, 5.0), clock=clock)
    failing = _failing_targets(config, snapshot)
    diag_tasks = [diagnose(where, include_system=system_nameservers, timeout=timeout)
                  for _, where in failing]
    report, history, diagnoses = await asyncio.gather(
        _safe(env_task), _history(config, now),
        asyncio.gather(*diag_tasks, return_exceptions=True))

    def build() -> None:  # reading logs and package versions and deflating block: a thread
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            w = _Writer(archive, manifest)
            if snapshot is not None:
                w.json("status.json", snapshot)
            else:
                manifest.left_out["status.json"] = "no status snapshot was given"
            if isinstance(report, BaseException):
                manifest.left_out["environment.json"] = f"{type(report).__name__}: {report}"
            else:
                w.json("environment.json", report.as_dict())
            if isinstance(history, str):
                w.text("history-24h-1m.csv", history)
            else:
                manifest.left_out["history-24h-1m.csv"] = str(history)
            for (name, _), found in zip(failing, diagnoses, strict=True):
                stem = f"diagnoses/{_SAFE_NAME.sub('_', name)}"
                if isinstance(found, BaseException):
                    manifest.left_out[stem] = f"{type(found).__name__}: {found}"
                    continue
                w.text(f"{stem}.txt", found.render_text())
                w.json(f"{stem}.json", found.as_dict())
            w.json("config.json", {"source": str(config.source) if config.source else None,
                                   **config.to_dict()})
            _add_logs(w, logs or log_dir())
            w.json("versions.json", _versions())
            data = json.dumps(manifest.as_dict(), indent=2, ensure_ascii=True) + "\n"
            archive.writestr("manifest.json", data)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(buffer.getvalue())

    await asyncio.to_thread(build)
    return manifest


async def _safe(task: Awaitable[_T]) -> _T | Exception:
    try:
        return await task
    except Exception as exc:  # a reader bug must not lose the rest of the bundle
        return exc


def _failing_targets(config: Config, snapshot: Mapping[str, Any] | None,
                     ) -> list[tuple[str, str]]:
    """(name, host[:port] or URL) of the targets the snapshot shows down or degraded."""
    if snapshot is None:
        return []
    bad = {t.get("name") for t in snapshot.get("targets", [])
           if t.get("status") in ("down", "degraded")}
    found = []
    for t in config.targets:
        if t.name not in bad:
            continue
        where = t.url or (f"{t.host}:{t.port}" if t.host and t.port else t.host)
        if where:
            found.append((t.name, where))
    return found[:_MAX_DIAGNOSES]


async def _history(config: Config, now: datetime) -> str | Exception:
    """The last 24 h at 1-minute resolution, as CSV (or why not)."""
    if not config.history.enabled:
        return Exception("history is disabled in the config")
    from .history import HistoryStore

    store = HistoryStore(config.history.path or None, read_only=True)
    if not store.path.exists():
        return Exception(f"no history file at {store.path}")
    try:
        await store.start()
        text = io.StringIO()
        await store.export(text, "csv", since=now - timedelta(hours=24), resolution="1m")
        return text.getvalue()
    except Exception as exc:
        return exc
    finally:
        await store.close()


def _add_logs(w: _Writer, folder: Path) -> None:
    try:
        files = sorted(p for p in folder.glob("*.log*") if p.is_file())
    except OSError as exc:
        w.manifest.left_out["logs/"] = f"cannot list {folder}: {exc}"
        return
    if not files:
        w.manifest.left_out["logs/"] = f"no log files in {folder}"
    for p in files[:5]:
        try:
            with p.open("rb") as fh:
                size = fh.seek(0, 2)
                fh.seek(max(0, size - _MAX_LOG_BYTES))
                text = fh.read().decode("utf-8", "replace")
        except OSError as exc:
            w.manifest.left_out[f"logs/{p.name}"] = str(exc)
            continue
        w.text(f"logs/{p.name}", text)


def _versions() -> dict[str, Any]:
    """netmon, Python, the OS, Qt (from package metadata: Qt is not imported) and every
    installed distribution."""
    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    packages = sorted({(d.metadata["Name"] or "?", d.version) for d in metadata.distributions()})
    return {"netmon": __version__, "python": sys.version,
            "platform": platform.platform(),
            "qt": version("PySide6-Essentials") or version("PySide6"),
            "packages": dict(packages)}
