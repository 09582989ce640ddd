"""core.events.Event: delivery, weak bound methods, failing receivers."""

from __future__ import annotations

import gc

import pytest

from core.events import Event


def test_emit_reaches_receivers_in_order_once_each() -> None:
    event: Event[int] = Event("e")
    got: list[tuple[str, int]] = []

    def first(v: int) -> None:
        got.append(("a", v))

    event.connect(first)
    event.connect(first)
    event.connect(lambda v: got.append(("b", v)))
    event.emit(1)
    assert got == [("a", 1), ("b", 1)]
    event.disconnect(first)
    event.emit(2)
    assert got[-1] == ("b", 2) and len(got) == 3


def test_bound_methods_are_weak() -> None:
    class Widget:
        def __init__(self) -> None:
            self.seen: list[int] = []

        def on_value(self, v: int) -> None:
            self.seen.append(v)

    event: Event[int] = Event()
    widget = Widget()
    event.connect(widget.on_value)
    event.emit(1)
    assert widget.seen == [1]
    del widget
    gc.collect()
    event.emit(2)
    assert event.receiver_count == 0


def test_failing_receiver_is_logged_and_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event: Event[str] = Event("status")
    got: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("receiver bug")

    event.connect(broken)
    event.connect(got.append)
    event.emit("x")
    assert got == ["x"]
    assert "event status: receiver" in caplog.text and "receiver bug" in caplog.text
