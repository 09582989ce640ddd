"""The Tokens tab over a real auth service validating HS256 tokens locally."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import jwt
import pytest
from PySide6.QtCore import Qt

from core.auth import AuthError
from core.config import AuthSettings, Config, HistorySettings
from core.runtime import NetmonCore
from netmon_gui.models.tokens import RowsModel
from netmon_gui.windows.main_window import MainWindow
from tests.support.running import started_core

SECRET = "gui-test-jwt-secret-0123456789abcdef0123"


def _texts(model: RowsModel) -> list[str]:
    return [str(model.index(r, c).data(role) or "")
            for r in range(model.rowCount()) for c in range(model.columnCount())
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole)]


@pytest.fixture
async def core(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[NetmonCore]:
    monkeypatch.setenv("NETMON_GUI_TEST_JWT", SECRET)
    config = Config(auth=AuthSettings(jwt_secret_env="NETMON_GUI_TEST_JWT",
                                      algorithms=["HS256"]),
                    history=HistorySettings(enabled=False))
    async with started_core(config) as netmon:
        yield netmon


async def test_tokens_tab_shows_claims_and_fingerprints_never_tokens(core: NetmonCore) -> None:
    assert core.auth is not None
    good = jwt.encode({"sub": "user-42", "email": "ops@example.com", "role": "authenticated",
                       "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    bad = jwt.encode({"sub": "mallory", "exp": int(time.time()) + 3600},
                     "not-the-secret-0123456789abcdef01234567", algorithm="HS256")
    window = MainWindow(core)
    window.show()
    try:
        result = await core.auth.verify(good)
        with pytest.raises(AuthError):
            await core.auth.verify(bad)
        panel = window.tokens_panel
        assert panel.cached is not None and panel.failed is not None
        cached, failed = panel.cached, panel.failed
        for _ in range(60):
            await asyncio.sleep(0.05)
            if cached.rowCount() == 1 and failed.rowCount() == 1:
                break
        assert cached.rowCount() == 1 and failed.rowCount() == 1
        texts = _texts(cached) + _texts(failed) + [panel.summary.text()]
        assert result.fingerprint[:12] in texts
        assert {"user-42", "ops@example.com", "authenticated", "local"} <= set(texts)
        for token in (good, bad):
            assert not any(token in t or token.split(".")[2] in t for t in texts)
        panel.clear_button.click()
        for _ in range(60):
            await asyncio.sleep(0.05)
            if not window.runner.busy and cached.rowCount() == 0:
                break
        assert cached.rowCount() == 0 and failed.rowCount() == 0
        assert core.recovery.trail[-1].action == "clear_auth_cache"
        assert "1 cached and 1 failed" in window.statusBar().currentMessage()
    finally:
        window.close()
        await window.aclose()
        window.deleteLater()


async def test_pasted_token_is_checked_cached_and_never_kept(core: NetmonCore) -> None:
    """Issue 9: a "check a token" box; the token is never shown, stored or logged."""
    assert core.auth is not None
    good = jwt.encode({"sub": "paste-1", "role": "authenticated",
                       "exp": int(time.time()) + 3600}, SECRET, algorithm="HS256")
    forged = jwt.encode({"sub": "mallory", "exp": int(time.time()) + 3600},
                        "not-the-secret-0123456789abcdef01234567", algorithm="HS256")
    window = MainWindow(core)
    window.show()
    box = window.tokens_panel.token_check
    try:
        box.field.setText(good)
        task = box.check()
        assert task is not None
        assert box.field.text() == ""  # emptied at once
        await task
        text = box.result.text()
        assert "VALID" in text and "REFUSED" not in text
        assert "paste-1" in text
        assert good not in text
        assert core.auth.stats()["cached_tokens"] == 1  # a real verification, cached
        box.field.setText(f"Bearer {forged}")
        task = box.check()
        assert task is not None
        await task
        assert "REFUSED" in box.result.text()
        assert "bad_signature" in box.result.text()
        assert forged not in box.result.text()
    finally:
        window.close()
        await window.aclose()
        window.deleteLater()
