"""A tiny Qt-free event: ``connect`` / ``disconnect`` / ``emit``.

Bound methods are held by weak reference, so a GUI widget that subscribes does not
outlive its window; plain functions and lambdas are held strongly. A receiver that
raises is logged and the remaining receivers still run.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from types import MethodType
from typing import Generic, TypeVar

__all__ = ["Event"]

T = TypeVar("T")
_log = logging.getLogger("netmon.events")

_Ref = Callable[[], Callable[[T], object] | None]


class Event(Generic[T]):
    """A named event carrying one value of type ``T``."""

    __slots__ = ("_receivers", "name")

    def __init__(self, name: str = "event") -> None:
        self.name = name
        self._receivers: list[_Ref[T]] = []

    def connect(self, receiver: Callable[[T], object]) -> None:
        """Call ``receiver(value)`` on every emit (once, however often connected)."""
        if self._index(receiver) >= 0:
            return
        if isinstance(receiver, MethodType):
            self._receivers.append(weakref.WeakMethod(receiver))
        else:
            self._receivers.append(_strong(receiver))

    def disconnect(self, receiver: Callable[[T], object]) -> None:
        """Stop calling ``receiver``; unknown receivers are ignored."""
        index = self._index(receiver)
        if index >= 0:
            del self._receivers[index]

    def emit(self, value: T) -> None:
        """Deliver ``value`` to every live receiver, in connection order."""
        if not self._receivers:
            return
        dead = False
        for ref in tuple(self._receivers):
            receiver = ref()
            if receiver is None:
                dead = True
                continue
            try:
                receiver(value)
            except Exception:
                _log.exception("event %s: receiver %r failed", self.name, receiver)
        if dead:
            self._receivers = [ref for ref in self._receivers if ref() is not None]

    @property
    def receiver_count(self) -> int:
        """How many receivers are still alive."""
        return sum(1 for ref in self._receivers if ref() is not None)

    def __bool__(self) -> bool:
        return bool(self._receivers)

    def _index(self, receiver: Callable[[T], object]) -> int:
        for i, ref in enumerate(self._receivers):
            if ref() == receiver:
                return i
        return -1


def _strong(receiver: Callable[[T], object]) -> _Ref[T]:
    return lambda: receiver
