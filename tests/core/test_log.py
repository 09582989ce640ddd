"""Logging never breaks a cp1252 console and never writes a secret."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.log import redact, setup_logging

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJyb2xlIjoiYWRtaW4ifQ."
       "c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU")
SECRETS = [JWT, "hunter2", "sk_live_abcdef123456", "opaque-bearer-token-999"]


@pytest.fixture
def cp1252_console(tmp_path: Path) -> Iterator[tuple[io.TextIOWrapper, io.BytesIO, Path]]:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", errors="strict", write_through=True)
    logger = setup_logging("DEBUG", stream=stream, file_dir=tmp_path)
    try:
        yield stream, raw, tmp_path
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            handler.close()


def test_emoji_and_non_ascii_never_raise_on_cp1252(
    cp1252_console: tuple[io.TextIOWrapper, io.BytesIO, Path],
) -> None:
    _, raw, folder = cp1252_console
    log = logging.getLogger("netmon.test")
    log.warning("NETWORK: \U0001f534 down: h\u00f4te \u201cdb\u201d \u2192 \u6570\u636e\u5e93")
    try:
        raise RuntimeError("\u2717 failed \U0001f4a5")
    except RuntimeError:
        log.exception("RESILIENT: caught")
    out = raw.getvalue().decode("ascii")  # strictly ASCII, so any console can print it
    assert "NETWORK: \\U0001f534 down: h\\xf4te" in out
    assert "\\u2717 failed" in out
    file_text = (folder / "netmon.log").read_text("utf-8")
    assert "\\U0001f534" in file_text and file_text.isascii()


def test_secrets_never_reach_console_or_file(
    cp1252_console: tuple[io.TextIOWrapper, io.BytesIO, Path],
) -> None:
    _, raw, folder = cp1252_console
    log = logging.getLogger("netmon.auth")
    log.info("verifying %s", JWT)
    log.info("headers: {'Authorization': 'Bearer opaque-bearer-token-999'}")
    log.info("connecting to postgresql://app:hunter2@db.internal:5432/app")
    log.info("dsn: host=db user=app password=hunter2 dbname=app")
    log.info('supabase {"apikey": "sk_live_abcdef123456"}')
    log.info("apikey=sk_live_abcdef123456&x=1")
    try:
        raise ConnectionError(f"failed with token {JWT}")
    except ConnectionError:
        log.exception("auth call failed")
    for text in (raw.getvalue().decode("ascii"), (folder / "netmon.log").read_text("utf-8")):
        for secret in SECRETS:
            assert secret not in text
        assert "postgresql://app:***@db.internal" in text
        assert "Bearer ***" in text
        assert "<jwt:***>" in text


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "GET https://api.example.test/health 200 in 12 ms; 3 targets up"
    assert redact(text) == text


def test_setup_twice_does_not_duplicate_handlers(tmp_path: Path) -> None:
    first = setup_logging("INFO", stream=io.StringIO(), file_dir=tmp_path)
    count = len(first.handlers)
    second = setup_logging("INFO", stream=io.StringIO(), file_dir=tmp_path)
    assert len(second.handlers) == count == 2
    for handler in list(second.handlers):
        second.removeHandler(handler)
        handler.close()


def test_unwritable_log_folder_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    stream = io.StringIO()
    logger = setup_logging("INFO", stream=stream, file_dir=blocker / "logs")
    assert "cannot write log file" in stream.getvalue()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_the_suite_wide_leak_catcher_really_catches() -> None:
    from tests.support.secrets_watch import LeakCatcher

    catcher = LeakCatcher()
    log = logging.getLogger("netmon.leaky")
    log.addHandler(catcher)
    try:
        log.debug("calling with %s", "sk-abcdef-123")
        try:
            raise ValueError("bad token sk-zzzzzz-999")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(catcher)
    assert [s for s, _ in catcher.leaks({"sk-abcdef-123", "sk-zzzzzz-999"})] == [
        "sk-abc...", "sk-zzz..."]


LEAK = "LITERAL-SECRET-9f8e7d"


@pytest.mark.parametrize(
    "text",
    [
        f"postgresql://app:{LEAK}#x@127.0.0.1/app",
        f"postgresql://app:{LEAK}/x@127.0.0.1/app",
        f"postgresql://app:{LEAK}?x@127.0.0.1/app",
        f"postgresql://app:ab@{LEAK}@127.0.0.1/app",
        f"'postgres://app:{LEAK}@h1:5432,h2/app'",
        f"postgresql://app@h/app?sslmode=require&password={LEAK}",
        f"host=h password = '{LEAK} x' dbname=d",
        f"host=h password='x \\' {LEAK}' dbname=d",
        f"host=h password=x\\ {LEAK} dbname=d",
        f"host=h password='x {LEAK}",  # unterminated
        f'{{"password": "x {LEAK}"}}',
        f"{{'apikey': '{LEAK}'}}",
        f"https://h/x?key={LEAK}&b=1",
        f"https://h/x#access_token={LEAK}",
        f"sslpassword={LEAK}",
        f"client_secret={LEAK}",
    ],
)
def test_redact_masks_dsn_and_url_secrets_in_every_form(text: str) -> None:
    assert LEAK not in redact(text)
    assert LEAK not in redact(f"ValueError: bad value {text!r} in field")


def test_redact_keeps_config_error_prose_readable() -> None:
    text = ("/x/netmon.toml: targets[0] (db).password: secrets are never stored in the config "
            "file. Put it in the OS keyring")
    assert redact(text) == text


def test_redact_masks_secret_query_keys_and_prefixed_names() -> None:
    url = ("https://u:pw1234@h.test/cb?key=K1secret&client_secret=K2secret&id_token=K3secret"
           "&X-Api-Key=K4secret&sig=K5secret&page=2&monkey=banana")
    text = redact(url)
    for secret in ("pw1234", "K1secret", "K2secret", "K3secret", "K4secret", "K5secret"):
        assert secret not in text
    assert text.endswith("&page=2&monkey=banana")
    assert redact('{"key_file": "a.pem", "keyring": "netmon/db"}') == (
        '{"key_file": "a.pem", "keyring": "netmon/db"}')


@pytest.mark.parametrize(
    ("text", "kept"),
    [("secret_key=zzz-secret", "secret_key="), ("private_key=abcd1234", "private_key="),
     ("SUPABASE_KEY=sb_secret_abc123", "SUPABASE_KEY="), ("PGPASSWORD=hunter2x", "PGPASSWORD="),
     ("Authorization: Token abcdef123", "Authorization: Token ")],
)
def test_redact_masks_key_suffixes_glued_passwords_and_token_schemes(text: str,
                                                                     kept: str) -> None:
    secret = text.split("=", 1)[1] if "=" in text else text.rsplit(" ", 1)[1]
    assert redact(text) == kept + "***"
    assert secret not in redact(text)


@pytest.mark.parametrize("text", ["the token expired", "netmon token inspect",
                                  "password_keyring = 'netmon/db'", "key_file=a.pem",
                                  "monkey=banana"])
def test_redact_leaves_prose_and_keyring_references_alone(text: str) -> None:
    assert redact(text) == text
