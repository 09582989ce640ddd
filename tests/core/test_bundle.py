"""``netmon bundle``: complete (manifest, status, environment, history, diagnoses, config, logs,
versions) and free of secrets planted in every place a secret could come from."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import ErrorKind
from core.history import HistoryStore
from core.log import log_dir
from core.probes.base import ProbeResult
from tests.core.test_cli_commands import netmon, write_config
from tests.support.netutil import free_tcp_port

SECRETS = {
    "password": "Pl4nted-DB-Passw0rd",
    "apikey": "sk_live_PLANTEDapikey0123456789",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ",
    "bearer": "PlantedBearerToken987654",
    "proxy": "Pr0xyPlantedPw",
}


@pytest.fixture
def planted(tmp_path: Path, isolated_folders: Path) -> tuple[Path, dict[str, str]]:
    """A config naming secrets by reference, the secrets in the environment, a log file and
    history rows that mention them."""
    port = free_tcp_port()
    history = tmp_path / "history.db"
    config = write_config(tmp_path, f"""
[history]
path = "{history}"

[[targets]]
name = "db"
kind = "tcp"
host = "127.0.0.1"
port = {port}
password_env = "NETMON_TEST_DB_PASSWORD"

[[targets]]
name = "api"
kind = "http"
url = "http://127.0.0.1:{port}/health"
apikey_env = "NETMON_TEST_APIKEY"
""")
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "netmon.log").write_text(
        "2026-03-01 12:00:00 INFO netmon: started\n"
        f"2026-03-01 12:00:01 WARNING netmon: Authorization: Bearer {SECRETS['bearer']}\n"
        f"2026-03-01 12:00:02 ERROR netmon: connect postgresql://app:{SECRETS['password']}@db/x\n"
        f"2026-03-01 12:00:03 ERROR netmon: token {SECRETS['jwt']} rejected\n"
        f"2026-03-01 12:00:04 ERROR netmon: apikey={SECRETS['apikey']}\n", encoding="utf-8")
    env = {"NETMON_TEST_DB_PASSWORD": SECRETS["password"], "NETMON_TEST_APIKEY": SECRETS["apikey"],
           "HTTPS_PROXY": f"http://user:{SECRETS['proxy']}@127.0.0.1:9",
           "NO_PROXY": "127.0.0.1,localhost", "NETMON_CONFIG": str(config)}
    return history, env


async def _seed_history(path: Path) -> None:
    async with HistoryStore(path) as store:
        now = datetime.now(UTC)
        for minutes in range(5):
            store.add(ProbeResult("db", "tcp", False, 2.0, now - timedelta(minutes=minutes),
                                  error_kind=ErrorKind.CONNECTION_REFUSED,
                                  error=f"refused; password={SECRETS['password']}"))


async def test_bundle_is_complete_and_holds_no_secret(
        planted: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    history, env = planted
    await _seed_history(history)
    out = tmp_path / "support.zip"
    code, stdout, stderr = await netmon("bundle", "-o", str(out), "--no-system-nameservers",
                                        "--timeout", "1", env=env)
    assert code == 0, stderr
    assert "error" not in stderr.lower()
    assert f"wrote {out}" in stdout
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        texts = {n: archive.read(n).decode("utf-8") for n in names}
    assert {"manifest.json", "status.json", "environment.json", "history-24h-1m.csv",
            "diagnoses/db.txt", "diagnoses/db.json", "diagnoses/api.txt", "config.json",
            "logs/netmon.log", "versions.json"} <= names
    manifest = json.loads(texts["manifest.json"])
    assert set(manifest["files"]) == names - {"manifest.json"}
    status = json.loads(texts["status.json"])
    assert {t["name"]: t["status"] for t in status["targets"]} == {"db": "down", "api": "down"}
    assert json.loads(texts["environment.json"])["schema"] == "netmon.env/1"
    assert texts["history-24h-1m.csv"].count("\n") >= 2  # header + at least one minute
    assert "connection_refused" in json.loads(texts["diagnoses/db.json"])["verdict"]["kind"]
    config = json.loads(texts["config.json"])
    assert config["targets"][0]["password_env"] == "NETMON_TEST_DB_PASSWORD"  # by name only
    versions = json.loads(texts["versions.json"])
    assert versions["python"] and "dnspython" in versions["packages"]
    assert "Bearer ***" in texts["logs/netmon.log"]
    everything = "\n".join([*texts.values(), stdout, stderr])
    leaked = [name for name, value in SECRETS.items() if value in everything]
    assert leaked == []


async def test_bundle_without_history_says_what_was_left_out(tmp_path: Path,
                                                            isolated_folders: Path) -> None:
    config = write_config(tmp_path, "[history]\nenabled = false\n")
    out = tmp_path / "b.zip"
    code, stdout, _ = await netmon("bundle", "-o", str(out), "--config", str(config))
    assert code == 0
    assert "left out history-24h-1m.csv: history is disabled in the config" in stdout
    assert "left out status.json" in stdout
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert "logs/" in manifest["left_out"]
