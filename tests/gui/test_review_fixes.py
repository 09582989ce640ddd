"""Console answers that must stay true with backends that are not ours."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from core.remote import normalize_snapshot
from netmon_gui.actions import describe_outcome, failure_of
from netmon_gui.widgets.status_banner import StatusBanner


@pytest.mark.parametrize("conditions", [None, ["local_network_down"], {"id": "x"},
                                        [{"id": "local_network_down", "active": True}]])
def test_odd_conditions_from_a_backend_never_break_the_banner(
    qtbot: QtBot, conditions: object,
) -> None:
    """``"conditions": null`` used to raise on every refresh (a crash dialog each time)."""
    snapshot, _ = normalize_snapshot({"status": "degraded", "http_status": 200,
                                      "targets": [], "conditions": conditions})
    banner = StatusBanner()
    qtbot.addWidget(banner)
    banner.update_from(snapshot)
    assert banner.status_label.text() == "DEGRADED"


@pytest.mark.parametrize(
    ("breakers", "why"),
    [([{"name": "db", "before": "open", "after": "open"}], "still not closed: db"),
     ([], "no breaker was reset"),
     ([{"name": "db", "before": None, "after": None}],
      "accepted, but the result was not reported for db")],
)
def test_a_reset_that_closed_nothing_is_not_reported_as_done(
    breakers: list[dict[str, object]], why: str,
) -> None:
    """These used to read "Reset breaker: already closed" and be logged as ok."""
    result = {"breakers": breakers}
    assert failure_of("reset_breaker", result) == why
    assert describe_outcome("reset_breaker", "db", result) == f"Reset breaker (db) failed: {why}"
    closed = {"breakers": [{"name": "db", "before": "open", "after": "closed"}]}
    assert failure_of("reset_breaker", closed) is None
