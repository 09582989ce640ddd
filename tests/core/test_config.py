"""Config: defaults, validation messages naming file/field/fix, secrets refused, atomic save,
and a property test: any TOML document loads or raises ConfigError, never anything else."""

from __future__ import annotations

import contextlib
import dataclasses
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import (
    Config,
    Target,
    config_path,
    default_config_text,
    load_config,
    parse_config,
    save_config,
    validate_section,
)
from core.errors import ConfigError
from core.history import Retention
from core.notify import NotifyPolicy


def test_embedded_defaults_equal_the_dataclass_defaults() -> None:
    config = parse_config(default_config_text())
    assert dataclasses.replace(config, targets=[]) == Config()  # targets: the test below
    assert config.breaker.failure_threshold == 3
    assert config.breaker.reset_timeout_s == 30
    assert config.auth.token_ttl_s == 300
    assert config.retry.max_attempts == 5
    assert config.monitor.interval_s == 30


def test_notifications_and_retention_settings_feed_policy_and_store() -> None:
    config = parse_config("[notifications]\nenabled = false\nquiet_s = 0\nreminder_s = 600\n"
                          "[history]\nraw_hours = 2\nminute_days = 1\nhour_days = 7\n")
    assert NotifyPolicy.from_settings(config.notifications) == NotifyPolicy(False, 0.0, 600.0)
    assert NotifyPolicy.from_settings(Config().notifications) == NotifyPolicy()
    assert Retention.from_settings(config.history) == Retention(
        timedelta(hours=2), timedelta(days=1), timedelta(days=7))
    assert Retention.from_settings(Config().history) == Retention()  # the old constants
    # the settings dialog's check is the loader's, cross-field rule included
    assert validate_section("history", {"raw_hours": 100, "minute_days": 2}) == {
        "minute_days": "2 days is shorter than raw_hours (100 h); keep 1-minute rollups at "
                       "least as long as raw results"}
    assert validate_section("history", {"raw_hours": 24, "minute_days": 1}) == {}
    assert set(validate_section("notifications", {"quiet_s": -1, "reminder_s": 1})) == {
        "quiet_s", "reminder_s"}


def test_embedded_defaults_monitor_this_machines_network() -> None:
    """Loaded only, never probed: nothing in the tests reaches the internet."""
    targets = {t.name: t for t in parse_config(default_config_text()).targets}
    assert list(targets) == ["os-resolver", "internet-http", "internet-dns"]
    assert all(t.enabled for t in targets.values())
    resolver = targets["os-resolver"]
    assert resolver.kind == "dns" and resolver.host and resolver.system_nameservers
    assert resolver.nameservers == []  # only this machine's own nameservers, asked directly
    http = targets["internet-http"]  # Windows NCSI: HTTP GET, status 200, a known body
    assert http.kind == "http" and http.method == "GET"
    assert http.url == "http://www.msftconnecttest.com/connecttest.txt"
    assert http.expect_status == [200] and http.body_contains == "Microsoft Connect Test"
    assert not http.follow_redirects  # a captive portal's redirect is a failure, not a pass
    ncsi_dns = targets["internet-dns"]
    assert ncsi_dns.kind == "dns" and ncsi_dns.host == "dns.msftncsi.com"
    assert ncsi_dns.expect_addresses == ["131.107.255.255"]
    assert ncsi_dns.resolver == "os"
    assert load_config() == parse_config(default_config_text())  # no file: these defaults


def test_location_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             isolated_folders: Path) -> None:
    default = config_path()
    assert str(default).startswith(str(isolated_folders))  # never the real user folder
    monkeypatch.setenv("NETMON_CONFIG", str(tmp_path / "env.toml"))
    assert config_path() == tmp_path / "env.toml"
    assert config_path(tmp_path / "explicit.toml") == tmp_path / "explicit.toml"


def test_missing_default_file_means_defaults_but_missing_explicit_is_an_error(
    tmp_path: Path,
) -> None:
    assert load_config() == parse_config(default_config_text())
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_config(tmp_path / "nope.toml")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "netmon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_targets(tmp_path: Path) -> None:
    path = write(tmp_path, """
[monitor]
interval_s = 5

[[targets]]
name = "api"
kind = "http"
url = "https://api.example.test/health"
expect_status = [200, 204]

[[targets]]
name = "db"
kind = "postgres"
dsn = "postgresql://app@db.internal:5432/app"
password_keyring = "netmon/db"

[[targets]]
name = "dns"
kind = "dns"
host = "svc.example.test"
nameservers = ["127.0.0.1:5353", "1.1.1.1", "[::1]:53"]
""")
    config = load_config(path)
    assert config.source == path
    assert config.monitor.interval_s == 5.0
    assert [t.name for t in config.targets] == ["api", "db", "dns"]
    assert config.target("db").password.keyring == "netmon/db"
    assert config.target("api").expect_status == [200, 204]


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("[monitor]\ninterval_s = 0.5\n", "monitor.interval_s", "out of range (allowed: 1..86400)"),
        ("[monitor]\ninterval_s = true\n", "monitor.interval_s", "must be a number"),
        ("[monitor]\ninterval_s = nan\n", "monitor.interval_s", "must be finite"),
        ("[monitor]\nintervall_s = 3\n", "monitor.intervall_s", "did you mean 'interval_s'"),
        ("[retry]\njitter = \"random\"\n", "retry.jitter", "allowed: none, full, equal"),
        ("[breaker]\nfailure_threshold = 2.5\n", "breaker.failure_threshold", "whole number"),
        ("monitor = 3\n", "monitor", "must be a table"),
        ("[history]\nraw_hours = 0.5\n", "history.raw_hours", "out of range (allowed: 1..8784)"),
        ("[history]\nraw_hours = 100\nminute_days = 2\n", "history.minute_days",
         "shorter than raw_hours"),
        ("[history]\nminute_days = 60\nhour_days = 30\n", "history.hour_days",
         "shorter than minute_days"),
        ("[notifications]\nreminder_s = 10\n", "notifications.reminder_s",
         "out of range (allowed: 60..604800)"),
        ("[notifications]\nquiet = 3\n", "notifications.quiet", "did you mean 'quiet_s'"),
        ("[[targets]]\nkind = \"http\"\n", "targets[0].name", "is required"),
        ("[[targets]]\nname = \"x\"\nkind = \"smtp\"\n", "targets[0] (x).kind", "'smtp'"),
        ("[[targets]]\nname = \"x\"\nkind = \"tcp\"\nhost = \"h\"\n", "targets[0] (x).port",
         "required for kind 'tcp'"),
        ("[[targets]]\nname = \"x\"\nkind = \"http\"\nurl = \"ftp://h/\"\n",
         "targets[0] (x).url", "not an http(s) URL"),
        ("[[targets]]\nname = \"x\"\nkind = \"dns\"\nhost = \"h\"\n"
         "nameservers = [\"dns.google\"]\n",
         "targets[0] (x).nameservers", "not a nameserver address"),
        ("[[targets]]\nname = \"a\"\nkind = \"dns\"\nhost = \"h\"\n"
         "[[targets]]\nname = \"a\"\nkind = \"dns\"\nhost = \"h\"\n",
         "targets[1] (a).name", "duplicate target name"),
        ("x = [\n", None, "not valid TOML"),
    ],
)
def test_errors_name_the_file_the_field_and_the_fix(
    tmp_path: Path, text: str, field: str | None, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path))
    if field:
        assert f": {field}:" in message
        assert info.value.field == field
    assert words in message


@pytest.mark.parametrize(
    "text",
    [
        "[[targets]]\nname = \"db\"\nkind = \"postgres\"\ndsn = \"postgresql://u:hunter2@h/db\"\n",
        "[[targets]]\nname = \"db\"\nkind = \"postgres\"\ndsn = \"postgresql://u@h/db?password=x\"\n",
        "[[targets]]\nname = \"db\"\nkind = \"postgres\"\nhost = \"h\"\npassword = \"hunter2\"\n",
        "[auth]\njwt_secret = \"s3cret\"\n",
        "[auth]\napikey = \"abc\"\n",
        "[[targets]]\nname = \"w\"\nkind = \"http\"\nurl = \"https://u:pw@h/\"\n",
    ],
)
def test_literal_secrets_are_rejected_with_the_keyring_fix(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "never stored in the config file" in message
    assert "keyring set netmon" in message and "_keyring = " in message
    assert "hunter2" not in message and "s3cret" not in message


def test_non_utf8_and_folder_paths(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[monitor]\n# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf[monitor]\ninterval_s = 7\n")  # Windows Notepad writes a BOM
    assert load_config(path).monitor.interval_s == 7


def test_save_is_atomic_keeps_comments_and_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, "# my notes\n[monitor]\ninterval_s = 9  # fast\n")
    config = load_config(path)
    new = Config(monitor=config.monitor, targets=[
        Target(name="api", kind="http", url="http://127.0.0.1:8080/health"),
    ])
    save_config(new, path)
    text = path.read_text("utf-8")
    assert "# my notes" in text and "# fast" in text
    assert load_config(path) == new
    assert [p.name for p in tmp_path.iterdir()] == ["netmon.toml"]  # no temp file left


def test_failed_save_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[monitor]\ninterval_s = 9\n")
    import core.config.save as module

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        save_config(Config(), path)
    assert path.read_text("utf-8") == "[monitor]\ninterval_s = 9\n"
    assert [p.name for p in tmp_path.iterdir()] == ["netmon.toml"]


# --- property test ---------------------------------------------------------------------
KNOWN_KEYS = ["interval_s", "timeout_s", "concurrency", "down_after", "failure_threshold",
              "reset_timeout_s", "max_attempts", "jitter", "level", "file", "enabled", "path",
              "name", "kind", "host", "port", "url", "dsn", "nameservers", "expect_status",
              "password", "password_keyring", "algorithms", "token_ttl_s"]
SECTIONS = ["monitor", "breaker", "retry", "auth", "logging", "history", "targets", "other"]

scalars = st.one_of(
    st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["http", "dns", "tcp", "postgres", "supabase", "full", "INFO",
                     "http://127.0.0.1:1/", "postgresql://u@h/db", "127.0.0.1:53"]),
    st.datetimes(), st.dates(),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
tables = st.dictionaries(st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=8)),
                         values, max_size=6)
documents = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.one_of(tables, st.lists(tables, max_size=3), values),
    max_size=5,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_toml_document_loads_or_raises_config_error(doc: dict[str, Any]) -> None:
    try:
        text = tomlkit.dumps(doc)
        tomllib.loads(text)
    except Exception:  # a document tomlkit cannot express is not a test case
        return
    try:
        config = parse_config(text)
    except ConfigError as exc:
        assert str(exc)
    else:
        assert isinstance(config, Config)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_raises_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_config(text)


# --- hardening: secrets in DSNs and URLs, masked values, gaps in validation -------------
SECRET = "LITERAL-SECRET-9f8e7d"


def pg(dsn: str) -> str:
    return f'[[targets]]\nname = "db"\nkind = "postgres"\ndsn = """{dsn}"""\n'


@pytest.mark.parametrize(
    "text",
    [
        pg(f"postgresql://app:{SECRET}#x@127.0.0.1/app"),
        pg(f"postgresql://app:{SECRET}?x@127.0.0.1/app"),
        pg(f"postgres://app:{SECRET}@h1,h2:5433/app"),
        pg(f"postgresql://app@h/app?sslmode=require&pass%77ord={SECRET}"),
        pg(f"host=127.0.0.1 user=app password={SECRET}"),
        pg(f"host=127.0.0.1 password = '{SECRET} x'"),
    ],
)
def test_a_dsn_password_is_refused_however_it_is_written(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: targets[0] (db).dsn: ")
    assert 'password_keyring = "netmon/db"' in message and "password_env = " in message
    assert SECRET not in message and "\n" not in message


@pytest.mark.parametrize(
    ("text", "field", "fix"),
    [
        (f'[auth]\nsupabase_url = "http://svc:{SECRET}@127.0.0.1"\n', "auth.supabase_url",
         "apikey_keyring = "),
        (f'[auth]\nsupabase_url = "http://{SECRET}@127.0.0.1"\n', "auth.supabase_url",
         "apikey_keyring = "),
        *[(f'[[targets]]\nname = "w"\nkind = "http"\nurl = "http://127.0.0.1/x?a=1&{key}={SECRET}"\n',
           "targets[0] (w).url", "apikey_keyring = ")
          for key in ("apikey", "token", "access_token", "password", "secret", "key", "api_key",
                      "APIKEY", "api%5Fkey")],
        (f'[[targets]]\nname = "s"\nkind = "supabase"\nurl = "http://127.0.0.1/#access_token={SECRET}"\n',
         "targets[0] (s).url", "apikey_keyring = "),
        (f'[[targets]]\nname = "w"\nkind = "http"\nurl = "http://u:{SECRET}#x@127.0.0.1/"\n',
         "targets[0] (w).url", "_keyring = "),
        (f'[[remotes]]\nname = "r"\nurl = "http://127.0.0.1/?apikey={SECRET}"\n',
         "remotes[0] (r).url", "token_keyring = "),
    ],
)
def test_secrets_in_urls_are_refused_with_the_keyring_fix(
    tmp_path: Path, text: str, field: str, fix: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}: ")
    assert "never stored in the config file" in message and fix in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (f'[[targets]]\nname = "t"\nkind = "tcp"\nhost = "h"\nport = "{SECRET}"\n',
         "targets[0] (t).port", f"must be a whole number, got a string of {len(SECRET)} "
                                "characters ('LI...')"),
        ('[[targets]]\nname = "t"\nkind = "tcp"\nhost = "h"\nport = "8080"\n',
         "targets[0] (t).port", "got a string of 4 characters ('8080'); write it without quotes"),
        (f'[[targets]]\nname = "w"\nkind = "http"\nurl = ["{SECRET}"]\n',
         "targets[0] (w).url", "must be a string, got a list of 1 item"),
        (f'[[targets]]\nname = "w"\nkind = "http"\nurl = "{SECRET}"\n',
         "targets[0] (w).url", "is not an http(s) URL"),
        (f'[[targets]]\nname = "w"\nkind = "http"\nurl = "http://h/"\nmethod = "{SECRET}"\n',
         "targets[0] (w).method", "(allowed: GET, HEAD)"),
        ('[retry]\njitter = "decorelated"\n', "retry.jitter", "did you mean 'decorrelated'?"),
        (f'[[targets]]\nname = "d"\nkind = "dns"\nhost = "h"\nnameservers = ["{SECRET}"]\n',
         "targets[0] (d).nameservers", "is not a nameserver address"),
        (pg(SECRET), "targets[0] (db).dsn", "postgresql://"),
    ],
)
def test_wrong_values_are_described_not_echoed(
    tmp_path: Path, text: str, field: str, words: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {field}: ") and words in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        (pg("postgresql://app@127.0.0.1:99999/app"), "targets[0] (db).dsn",
         "port 99999 is out of range"),
        (pg("postgresql://app@[::1/app"), "targets[0] (db).dsn", "']'"),
        (pg("host=127.0.0.1 port=70000"), "targets[0] (db).dsn", "out of range"),
        ("[database]\npool_min = 5\npool_max = 2\n", "database.pool_min",
         "more than pool_max (2)"),
        ("x = " + "[" * 2000 + "]" * 2000 + "\n", None, "nested too deeply"),
        ("x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n", None, "nested too deeply"),
    ],
)
def test_gaps_in_validation_are_one_clear_error(
    tmp_path: Path, text: str, field: str | None, words: str,
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(str(path)) and words in message and "\n" not in message
    if field:
        assert info.value.field == field


def test_every_accepted_dsn_form_loads(tmp_path: Path) -> None:
    for dsn in ("postgresql://app@h1:5432,h2:5433/app?sslmode=require",
                "host=127.0.0.1 port=5432 user=app dbname='my db'",
                "postgresql://app@[::1]:5432/app"):
        assert load_config(write(tmp_path, pg(dsn))).targets[0].dsn == dsn
