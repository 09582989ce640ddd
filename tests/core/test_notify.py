"""Notification decisions: transitions only, one local-network notice, damped flaps,
reminders at most every reminder_s (FakeClock, no waiting)."""

from __future__ import annotations

from core.monitor import Condition, StatusChange, TargetStatus
from core.notify import LOCAL_NETWORK, Notifier, NotifyPolicy
from core.testing import FakeClock

UP, DOWN, DEG, UNK = (TargetStatus.UP, TargetStatus.DOWN, TargetStatus.DEGRADED,
                      TargetStatus.UNKNOWN)


def change(clock: FakeClock, name: str, old: TargetStatus, new: TargetStatus) -> StatusChange:
    return StatusChange(name, old, new, f"{old} -> {new}", clock.now())


def make(**policy: float) -> tuple[Notifier, FakeClock]:
    clock = FakeClock()
    return Notifier(NotifyPolicy(**policy), clock), clock  # type: ignore[arg-type]


def test_only_down_and_back_up_are_announced() -> None:
    notifier, clock = make()
    assert notifier.on_status(change(clock, "api", UNK, UP)) is None
    assert notifier.on_status(change(clock, "api", UP, DEG)) is None  # failing, not down yet
    down = notifier.on_status(change(clock, "api", DEG, DOWN))
    assert down is not None and down.title == "api is down" and down.severity == "critical"
    assert notifier.on_status(change(clock, "api", DOWN, DEG)) is None  # recovering
    up = notifier.on_status(change(clock, "api", DEG, UP))
    assert up is not None and up.title == "api is back up" and up.severity == "info"
    assert notifier.on_status(change(clock, "api", UP, DEG)) is None


def test_one_local_network_notice_instead_of_one_per_target() -> None:
    notifier, clock = make(quiet_s=60)
    net = notifier.on_condition(Condition(LOCAL_NETWORK, True, "no answer", clock.now()))
    assert net is not None and net.title == "Local network down"
    notices = [notifier.on_status(change(clock, n, UP, DOWN)) for n in ("a", "b", "c")]
    assert notices == [None, None, None]
    assert notifier.on_condition(Condition(LOCAL_NETWORK, True, "x", clock.now())) is None
    clock.advance(30)
    assert notifier.due_reminders() == []  # nothing while the network is down
    back = notifier.on_condition(Condition(LOCAL_NETWORK, False, "a answers", clock.now()))
    assert back is not None and back.title == "Local network is back"
    assert notifier.on_status(change(clock, "a", DOWN, UP)) is None  # folded: no "back up"
    assert notifier.on_status(change(clock, "b", DOWN, UP)) is None
    clock.advance(59)
    assert notifier.due_reminders() == []
    clock.advance(2)  # c is still down a quiet period after the network came back
    late = notifier.due_reminders()
    assert [n.title for n in late] == ["c is down"]


def test_flapping_target_is_announced_once_per_quiet_period() -> None:
    notifier, clock = make(quiet_s=300, reminder_s=3600)
    assert notifier.on_status(change(clock, "db", UP, DOWN)) is not None
    clock.advance(20)
    assert notifier.on_status(change(clock, "db", DOWN, UP)) is not None
    for _ in range(3):  # flaps: held back, and so are their recoveries
        clock.advance(20)
        assert notifier.on_status(change(clock, "db", UP, DOWN)) is None
        clock.advance(20)
        assert notifier.on_status(change(clock, "db", DOWN, UP)) is None
    clock.advance(10)
    assert notifier.on_status(change(clock, "db", UP, DOWN)) is None
    clock.advance(100)  # 240 s after the last notice: still quiet
    assert notifier.due_reminders() == []
    clock.advance(200)  # held for quiet_s and still down: announced, with the flaps counted
    [late] = notifier.due_reminders()
    assert late.title == "db is down" and "went down 4 times since the last notice" in late.body
    clock.advance(400)  # quiet_s counts from the last down notice: 400 s ago
    assert notifier.on_status(change(clock, "db", DOWN, UP)) is not None
    assert notifier.on_status(change(clock, "db", UP, DOWN)) is not None


def test_reminder_at_most_every_reminder_s() -> None:
    notifier, clock = make(reminder_s=600)
    assert notifier.on_status(change(clock, "db", UP, DOWN)) is not None
    clock.advance(599)
    assert notifier.due_reminders() == []
    clock.advance(1)
    [reminder] = notifier.due_reminders()
    assert reminder.title == "db is still down" and reminder.severity == "warning"
    assert notifier.due_reminders() == []
    clock.advance(600)
    assert len(notifier.due_reminders()) == 1


def test_disabled_policy_says_nothing() -> None:
    notifier, clock = make(enabled=False)
    assert notifier.on_status(change(clock, "db", UP, DOWN)) is None
    assert notifier.on_condition(Condition(LOCAL_NETWORK, True, "x", clock.now())) is None
    clock.advance(10_000)
    assert notifier.due_reminders() == []
    assert notifier.down == ["db"]
