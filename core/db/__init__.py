"""DatabaseResilience: an asyncpg pool behind a breaker and retries, with an emergency mode.

Start-up is network-aware and bounded: the host goes through the OS resolver first (a
failure is classified, e.g. ``dns_not_found``), then the pool is created under the
``connect`` retry strategy; all of it, and the emergency attempt below, fits in
``connect_timeout`` seconds. ``begin()`` starts that in the background (an owned task,
"netmon-db-start-<target>", cancelled and awaited by ``close()`` and ``reconnect()``);
meanwhile ``health()`` says ``connecting`` with status ``unknown``. ``start()`` is
``begin()`` plus waiting for the attempt (``ready()``); neither raises. When resolution or
every connect attempt fails, the layer enters **emergency** mode:

* it tries once more, in the time left, with the emergency pool (min 1, max 2 connections,
  ``emergency_timeout`` for connect, acquire and operations); if that works, operations
  run on it (status ``degraded``). When the server turned connections away (too many
  connections for the server or the role, or cannot connect now) that attempt is retried
  under the ``connect`` strategy in the time left: the server may still count the
  connections the failed normal pool has just closed. A DNS failure gets no emergency
  attempt;
* otherwise there is no pool (status ``down``) and operations **fail fast**: they go through
  the breaker and raise ``DatabaseUnavailableError`` whose kind is the last start error
  (``dns_not_found``, ``connection_refused``, ``timeout``...), with no connection attempt
  and no retry. Three of those open the breaker, after which calls get ``CircuitOpenError``;
* an owned background task ("netmon-db-recovery-<target>") retries with backoff on the
  injected clock: each time the normal pool once, then, while there is no pool, the
  emergency pool as above (its budget ``connect_timeout``). When a normal pool can be
  created it is swapped in, mode returns to **normal** by itself and an open breaker is
  moved to half-open (``probe_succeeded``).

Operations (``fetch``, ``fetchrow``, ``fetchval``, ``execute``) pass the breaker once per
operation: one verdict per call, so "three failed operations" open it, and a rejection
touches no connection. Each operation has ONE deadline, ``timeout`` (default the pool's
``command_timeout``): acquiring (at most ``acquire_timeout``), the statement, releasing
and the retries all fit in it, and a retry is not started unless at least as much time
as the failed attempt took is left after its backoff wait. So a silent (blackholed)
database costs each call its timeout, ending in a ``timeout`` error the breaker counts
like a refusal. Reads are retried under the ``query`` strategy; ``execute`` only with
``idempotent=True``. A call made while a start attempt is in flight waits for it, within
its deadline. Broken connections are dropped and replaced on demand.

Status: ``unknown`` before the first start and while a start attempt is in flight
(``connecting``); ``down`` when closed, without a pool, or while the breaker is open;
``degraded`` in emergency mode with a pool or while the breaker is half-open; else ``up``.
The password is read from ``target.password`` at each pool creation and never appears in
logs, errors or ``health()``.

Files: ``model`` (mode, status, error, pool settings), ``pools`` (resolve, open, close),
``operation`` (one bounded attempt on a pool), ``resilience`` (the layer itself).
"""

from .model import DatabaseUnavailableError, DbMode, DbStatus
from .resilience import DatabaseResilience

__all__ = ["DatabaseResilience", "DatabaseUnavailableError", "DbMode", "DbStatus"]
