"""freeze_startup_objects: what start-up built leaves the collector's sight; later garbage
is still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from core.gc_settle import freeze_startup_objects


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_objects_alive_at_start_are_frozen_and_later_cycles_still_collected() -> None:
    before = Node()  # a tracked object alive at "start-up"
    frozen = freeze_startup_objects()
    assert frozen == gc.get_freeze_count() > 0
    assert not any(o is before for o in gc.get_objects())  # a full pass skips it
    a, b = Node(), Node()  # a cycle made afterwards...
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None  # ...is still found and freed
