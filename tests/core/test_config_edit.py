"""Editing one target at a time: the loader's rules per field, and saves keep comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config, Target, load_config, parse_config, save_config, validate_target
from core.errors import ConfigError

FILE = """\
# netmon config of the ops team
[monitor]
interval_s = 9  # fast

# the API we depend on
[[targets]]
name = "api"  # production
kind = "http"
url = "http://127.0.0.1:8080/health"

# internal DNS
[[targets]]
name = "dns"
kind = "dns"
host = "git.corp.example"  # the name people complain about
"""


def test_a_valid_target_has_no_problems() -> None:
    assert validate_target({"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": 5432}) == {}


def test_every_bad_field_is_reported_at_once_in_the_loaders_words() -> None:
    errors = validate_target({"name": "x", "kind": "tcp", "port": "5432", "timeout_s": 0})
    assert errors["port"] == ("must be a whole number, got a string of 4 characters ('5432'); "
                              "write it without quotes (allowed: 0..65535)")
    assert errors["timeout_s"] == "0 is out of range (allowed: 0.1..600)"
    with pytest.raises(ConfigError) as raised:  # the loader says the same about the same field
        parse_config('[[targets]]\nname = "x"\nkind = "tcp"\nport = "5432"\n')
    assert str(raised.value).endswith(errors["port"])


def test_rules_across_fields_name_the_field() -> None:
    assert validate_target({"name": "w", "kind": "http"}) == {
        "url": "is required for kind 'http'"}
    assert "not an http(s) URL" in validate_target(
        {"name": "w", "kind": "http", "url": "ftp://x"})["url"]
    assert "not a nameserver address" in validate_target(
        {"name": "d", "kind": "dns", "host": "a", "nameservers": ["8.8.8"]})["nameservers"]
    assert "dsn" in validate_target({"name": "p", "kind": "postgres"})


def test_names_must_be_unique_and_present() -> None:
    assert validate_target({"name": "api", "kind": "dns", "host": "a"}, taken=["api"]) == {
        "name": "duplicate target name 'api'; names must be unique"}
    assert validate_target({"name": "  ", "kind": "dns", "host": "a"}) == {
        "name": "must not be empty"}
    assert set(validate_target({})) == {"name", "kind"}


def test_a_literal_secret_is_refused_with_the_keyring_fix() -> None:
    errors = validate_target({"name": "p", "kind": "postgres", "host": "h", "password": "x"})
    assert "keyring" in errors["password"] and "password_keyring" in errors["password"]
    creds = validate_target({"name": "s", "kind": "supabase", "url": "https://u:p@h.example"})
    assert "credentials never go in the URL" in creds["url"]


def test_saving_an_edited_target_keeps_comments_inside_the_targets(tmp_path: Path) -> None:
    path = tmp_path / "netmon.toml"
    path.write_text(FILE, "utf-8")
    config = load_config(path)
    api = config.targets[0]
    edited = Config(monitor=config.monitor, targets=[
        api, Target(name="dns", kind="dns", host="git2.corp.example"),
        Target(name="db", kind="tcp", host="127.0.0.1", port=5432),
    ])
    save_config(edited, path)
    text = path.read_text("utf-8")
    for comment in ("# netmon config of the ops team", "# fast", "# the API we depend on",
                    "# production", "# internal DNS", "# the name people complain about"):
        assert comment in text
    assert 'host = "git2.corp.example"  # the name people complain about' in text
    assert "concurrency" not in text  # defaults are not written out
    assert load_config(path) == edited


def test_removing_and_reordering_targets_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "netmon.toml"
    path.write_text(FILE, "utf-8")
    config = load_config(path)
    api, dns = config.targets
    for targets in ([dns, api], [dns], []):
        new = Config(monitor=config.monitor, targets=targets)
        save_config(new, path)
        assert load_config(path) == new


def test_settings_sections_are_checked_field_by_field() -> None:
    from core.config import validate_section

    assert validate_section("monitor", {"interval_s": 30, "down_after": 2}) == {}
    errors = validate_section("breaker", {"failure_threshold": 0, "reset_timeout_s": "x"})
    assert errors["failure_threshold"] == "0 is out of range (allowed: 1..1000)"
    assert errors["reset_timeout_s"].startswith("must be a number")
    assert "did you mean 'jitter'" in validate_section("retry", {"jiter": "full"})["jiter"]
