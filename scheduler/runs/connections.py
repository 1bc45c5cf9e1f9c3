"""A run's database connection: checked around every job, and reconnected while the
database cannot be reached, so a restart of PostgreSQL does not lose a slot or a result."""

from __future__ import annotations

import logging
import threading
import time

from django.db import InterfaceError, OperationalError, connection, connections

from ..models import one_line

logger = logging.getLogger("scheduler.execution")

# A run that finds the database unreachable as it starts, or as it records its outcome,
# tries again every RECONNECT_EVERY seconds for RECONNECT_FOR seconds (a restart takes
# about one).
RECONNECT_EVERY = 0.5
RECONNECT_FOR = 10.0

_checked = threading.local()


def close_stale_connections() -> None:
    """Django's `close_old_connections` for a worker thread, run around every job.

    It closes a connection that failed or outlived `CONN_MAX_AGE`, so the next query
    reconnects. The health check it arms (a `SELECT 1` before the next query) is armed
    at most once a second per thread, not once per job: under load the extra round trip
    was a sixth of a run's database time. Connections inside a transaction (a test, a
    shell session calling a job) are left alone.
    """
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        if conn.errors_occurred or now - getattr(_checked, "at", 0.0) >= 1.0:
            conn.close_if_unusable_or_obsolete()
            _checked.at = now


def reconnecting(call, what: str):
    """`call()`, tried again on a new connection (at once, then every `RECONNECT_EVERY`
    seconds, for up to `RECONNECT_FOR`) while the database cannot be reached: PostgreSQL
    restarting, or this thread's session terminated. Any other database error is raised
    at once: the connection still answers, so the error is not about reaching the server.
    So is one inside a caller's transaction (a test, a shell: not ours to end). Only for
    statements that are safe to repeat.

    A thread waits here at most `RECONNECT_FOR` seconds; during a long outage the pool's
    threads all wait, and the slots queued behind them are recorded missed once they get
    through past their grace."""
    deadline = time.monotonic() + RECONNECT_FOR
    tries = 0
    while True:
        try:
            return call()
        except (InterfaceError, OperationalError) as exc:
            alive = connection.connection is not None and connection.is_usable()
            if alive or connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            connection.close()
            if tries == 0:
                logger.warning("Database unreachable %s (%s); reconnecting", what, one_line(exc))
            else:
                time.sleep(RECONNECT_EVERY)
            tries += 1
