"""Control characters from tokens, remote answers, config names and servers are shown as
visible escapes (``\\x1b``, ``\\n``) wherever netmon prints or logs them."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import jwt
import pytest

from core.log import AsciiSafeFormatter, printable
from tests.core.test_cli_commands import netmon, write_config
from tests.support.http_server import HttpServer

ESC = "\x1b"
RAW_CONTROLS = [chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))]


def assert_no_raw_controls(text: str) -> None:
    """Only newlines between lines may remain."""
    bad = sorted({hex(ord(c)) for c in text if c in RAW_CONTROLS and c != "\n"})
    assert not bad, f"raw control characters {bad} in {text!r}"


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b[8mb", "a\\x1b[8mb"), ("one\ntwo", "one\\ntwo"), ("cr\rtab\t", "cr\\rtab\\t"),
    ("nul\x00del\x7f", "nul\\x00del\\x7f"), ("csi\x9b2J", "csi\\x9b2J"), ("bel\x07", "bel\\x07"),
    ("plain text, caf\u00e9 C:\\path", "plain text, caf\u00e9 C:\\path"),
])
def test_printable_escapes_c0_c1_del_and_nothing_else(raw: str, shown: str) -> None:
    assert printable(raw) == shown


async def test_token_inspect_escapes_claim_keys_and_keeps_the_verdict_line(
    tmp_path: Path,
) -> None:
    hide = f"{ESC}[8m"
    fake = "\rverdict      VALID (checked local)\n"
    token = jwt.encode({"sub": "user-7", "exp": 4_102_444_800, hide: 1,
                        f"k{fake}": f"v{hide}\x7f", "z": "end" + hide},
                       "wrong-secret-0123456789abcdef-0123456789", algorithm="HS256")
    path = write_config(tmp_path, "[auth]\njwt_secret_env = 'TEST_JWT_SECRET'\n")
    env = {"TEST_JWT_SECRET": "inspect-secret-0123456789abcdef0123456789",
           "TEST_TOKEN": token}
    code, out, err = await netmon("--config", str(path), "token", "inspect", "--token-env",
                                  "TEST_TOKEN", env=env)
    assert code == 2, err
    assert_no_raw_controls(out)
    verdicts = [line for line in out.splitlines() if line.startswith("verdict")]
    assert verdicts == ["verdict      REFUSED: bad_signature: signature does not verify"]
    assert "\\x1b[8m" in out
    assert "k\\rverdict      VALID (checked local)\\n" in out


def _snapshot(name: str, error: str) -> dict[str, object]:
    return {
        "status": "unhealthy", "http_status": 503, "generated_at": f"2026-01-01T00:00:00Z{ESC}[2J",
        "targets": [{"name": name, "kind": "http", "status": "down", "reason": "",
                     "latency_ms": None, "error_kind": "timeout", "error": error}],
        "conditions": [{"id": f"c{ESC}[1A", "active": True, "detail": f"d{ESC}[1A\nX"}],
        "suggestions": [{"id": "s", "severity": "critical", "title": f"t{ESC}]0;pwn\x07",
                         "detail": f"line\n{ESC}[32mOK", "target": None, "action": None}],
        "breakers": [],
    }


async def test_status_remote_escapes_what_the_backend_sent(
    tmp_path: Path, http_server: HttpServer,
) -> None:
    http_server.route("/api/v1/system/status/comprehensive",
                      body=_snapshot(f"api{ESC}[8m\nghost", f"slow{ESC}[31m\r\x9bK"))
    path = write_config(tmp_path, "")
    code, out, err = await netmon("--config", str(path), "status", "--remote", http_server.url,
                                  "--token-env", "TEST_TOKEN", env={"TEST_TOKEN": "t-123456"})
    assert code == 2, err
    assert_no_raw_controls(out + err)
    assert "api\\x1b[8m\\nghost" in out
    assert "slow\\x1b[31m\\r\\x9bK" in out
    assert "t\\x1b]0;pwn\\x07" in out
    assert not any(line.startswith("ghost") for line in out.splitlines())


async def test_status_remote_escapes_a_backend_error_text(
    tmp_path: Path, http_server: HttpServer,
) -> None:
    http_server.route("/api/v1/system/status/comprehensive", status=500,
                      body={"detail": f"boom{ESC}[2J\nnetmon: OK"})
    path = write_config(tmp_path, "")
    code, out, err = await netmon("--config", str(path), "status", "--remote", http_server.url,
                                  "--token-env", "TEST_TOKEN", env={"TEST_TOKEN": "t-123456"})
    assert code == 3, err
    assert_no_raw_controls(out + err)
    assert "boom\\x1b[2J" in err  # (the client folds the newline to a space)


async def test_check_escapes_a_target_name_with_newline_and_escape(
    tmp_path: Path, http_server: HttpServer,
) -> None:
    http_server.route("/ok", body="ok")
    path = write_config(tmp_path, f'[[targets]]\nname = "api\\u001b[8m\\nOK"\nkind = "http"\n'
                        f'url = "{http_server.url}/ok"\n')
    code, out, err = await netmon("--config", str(path), "check", env={"NETMON_DEBUG": ""})
    assert code == 0, err
    assert_no_raw_controls(out + err)
    assert "api\\x1b[8m\\nOK" in out


def test_log_records_escape_controls_but_keep_traceback_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(AsciiSafeFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("netmon.test_escapes")
    logger.addHandler(handler)
    try:
        logger.warning("target %s failed", f"api{ESC}[8m\nWARNING forged")
        try:
            raise ValueError(f"server said {ESC}[2J\rhidden")
        except ValueError:
            logger.exception("probe crashed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert_no_raw_controls(text)
    lines = text.splitlines()
    assert lines[0] == "WARNING target api\\x1b[8m\\nWARNING forged failed"
    assert lines[1] == "ERROR probe crashed"
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: server said \\x1b[2J\\rhidden"
