"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests (initdb + pg_ctl, no Docker).

Example::

    with PostgresCluster() as pg:
        conn = await asyncpg.connect(pg.dsn_without_password(), password=pg.password)

The cluster has one superuser ``netmon`` with a password (scram-sha-256 for TCP and the
Unix socket, so a wrong password really fails) and a database ``netmon``. Durability is
switched off (fsync, full_page_writes, synchronous_commit) for speed.

The server binaries are looked for in ``$NETMON_PG_BINDIR``, ``pg_config --bindir``, the
directory of ``initdb`` on PATH, then the usual install locations. ``initdb`` refuses to run
as root: as root the cluster belongs to the ``postgres`` user and is driven via ``runuser``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import glob
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.netutil import free_tcp_port
from tests.support.secrets_watch import watch

_EXE = ".exe" if sys.platform == "win32" else ""
_SEARCH_GLOBS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "/usr/local/pgsql/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
    "C:/Program Files/PostgreSQL/*/bin",
)


class PostgresNotAvailableError(RuntimeError):
    """The server binaries (or a user to run them as) are missing."""


def _is_bindir(path: Path) -> bool:
    return (path / f"initdb{_EXE}").is_file() and (path / f"pg_ctl{_EXE}").is_file()


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path)) or (0,)


def find_pg_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``pg_ctl``, or None.

    ``$NETMON_PG_BINDIR`` wins when set (and is then the only place looked at).
    """
    override = os.environ.get("NETMON_PG_BINDIR")
    if override:
        return Path(override) if _is_bindir(Path(override)) else None
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for pattern in _SEARCH_GLOBS:
        candidates.extend(Path(p) for p in sorted(glob.glob(pattern), key=_version_key)[::-1])
    return next((c for c in candidates if _is_bindir(c)), None)


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


class PostgresCluster:
    """One PostgreSQL cluster in a temp dir; :meth:`start`/:meth:`stop` can be repeated."""

    def __init__(
        self,
        *,
        bindir: Path | str | None = None,
        user: str = "netmon",
        password: str | None = None,
        database: str = "netmon",
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        found = Path(bindir) if bindir is not None else find_pg_bindir()
        if found is None or not _is_bindir(found):
            raise PostgresNotAvailableError(
                "PostgreSQL server binaries not found (set NETMON_PG_BINDIR)"
            )
        self.bindir = found
        self.user = user
        self.password = watch(password or f"netmon-{secrets.token_hex(8)}")
        self.database = database
        self.host = host
        self.port = port or free_tcp_port(host)
        self._fixed_port = port is not None
        self._as: list[str] = []
        self.base_dir: Path | None = None
        self.running = False

    @property
    def data_dir(self) -> Path:
        """PGDATA (inside :attr:`base_dir`)."""
        assert self.base_dir is not None, "cluster not initialised"
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        """The server log written by ``pg_ctl -l``."""
        assert self.base_dir is not None, "cluster not initialised"
        return self.base_dir / "server.log"

    def dsn_without_password(self) -> str:
        """``postgresql://netmon@127.0.0.1:PORT/netmon``."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def dsn(self) -> str:
        """The DSN with the password in it."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.database}"

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """initdb on first call, then start the server and wait until it accepts connections."""
        if self.running:
            return
        first = self.base_dir is None
        if first:
            self._initdb()
        for attempt in range(3):
            try:
                self._pg_ctl_start()
                break
            except RuntimeError as exc:
                port_taken = "could not bind" in str(exc) or "already in use" in str(exc)
                if self._fixed_port or not port_taken or attempt == 2:
                    raise
                self.port = free_tcp_port(self.host)
        self.running = True
        atexit.register(self.cleanup)
        if first:
            self._run(
                [
                    self._bin("createdb"),
                    "-h", self.host, "-p", str(self.port), "-U", self.user, self.database,
                ],
                env={**os.environ, "PGPASSWORD": self.password},
                as_owner=False,
            )  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once (``pg_ctl -m immediate``); the data stays for a restart."""
        if not self.running:
            return
        self.running = False
        self._run([self._bin("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])

    def cleanup(self) -> None:
        """Stop the server and delete the cluster directory."""
        with contextlib.suppress(RuntimeError, OSError, subprocess.SubprocessError):
            self.stop()
        atexit.unregister(self.cleanup)
        if self.base_dir is not None:
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def __enter__(self) -> PostgresCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # ------------------------------------------------------------------ internals
    def _bin(self, name: str) -> str:
        return str(self.bindir / f"{name}{_EXE}")

    def _initdb(self) -> None:
        base = Path(tempfile.mkdtemp(prefix="netmon-pg-"))
        self.base_dir = base
        pwfile = base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if _running_as_root():
            import pwd

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(base, ignore_errors=True)
                self.base_dir = None
                raise PostgresNotAvailableError(
                    "running as root and there is no 'postgres' user to run initdb as"
                ) from None
            runuser = shutil.which("runuser") or "/sbin/runuser"
            self._as = [runuser, "-u", "postgres", "--"]
            for path in (base, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            self._run(
                [
                    self._bin("initdb"), "-D", str(self.data_dir), "-U", self.user,
                    "-A", "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                    "--locale=C", "--no-sync", "--no-instructions",
                ]
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    def _pg_ctl_start(self) -> None:
        assert self.base_dir is not None
        socket_dir = str(self.base_dir)
        if sys.platform != "win32":
            socket_dir = shlex.quote(socket_dir)
        options = (
            f"-c listen_addresses={self.host} -c port={self.port} -c fsync=off "
            f"-c unix_socket_directories={socket_dir} -c full_page_writes=off "
            "-c synchronous_commit=off"
        )
        self.log_path.unlink(missing_ok=True)
        try:
            self._run(
                [
                    self._bin("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                    "-o", options, "-w", "-t", "30", "start",
                ]
            )  # fmt: skip
        except RuntimeError as exc:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise RuntimeError(f"{exc}\n--- server log ---\n{log[-3000:]}") from None

    def _run(
        self,
        cmd: list[str],
        *,
        env: dict[str, str] | None = None,
        as_owner: bool = True,
    ) -> None:
        full = [*self._as, *cmd] if as_owner else cmd
        try:
            proc = subprocess.run(
                full,
                capture_output=True,
                text=True,
                timeout=90,
                cwd=self.base_dir,  # the postgres user may not be allowed into our cwd
                env=env,
                check=False,
            )
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                raise PostgresNotAvailableError(f"cannot run {full[0]}: {exc}") from exc
            raise
        if proc.returncode != 0:
            raise RuntimeError(
                f"{shlex.join(full)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
