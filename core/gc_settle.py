"""After start-up, keep what start-up built out of the garbage collector's full passes.

A long-running netmon process (the console, ``netmon serve``, ``netmon monitor``) builds
most of what it keeps at start: modules, classes, the config, the window's widgets. CPython
walks all of them in every full (generation-2) collection, which it runs whenever enough
objects have survived since the last one: in the console with 50 targets that was a
70-90 ms freeze of the one loop every few minutes. ``gc.freeze()`` moves them to a
permanent generation that collections skip; later objects are collected as before.
"""

from __future__ import annotations

import gc

__all__ = ["freeze_startup_objects"]


def freeze_startup_objects() -> int:
    """Collect once, then freeze every object alive; returns how many are frozen.

    Call it once a process has started (a frozen object that later becomes cyclic garbage
    is never freed: start-up objects live as long as the process).
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
