"""Waking the scheduler when schedules change.

On PostgreSQL the scheduler LISTENs on its own autocommit connection, and every change
(`SchedulerState.bump`) sends a NOTIFY in the writer's transaction, delivered at commit:
the scheduler wakes at once. On SQLite, and whenever the listening connection is down, it
reads the change counter every `SCHEDULER_POLL_INTERVAL`. Notifications can be lost (a
reconnect), so the scheduler also reconciles everything after every reconnect and every
minute.
"""

from __future__ import annotations

import contextlib
import logging
import select
import threading

from django.db import connection

from ..models import CHANGES_CHANNEL
from .sessions import dedicated_connection

logger = logging.getLogger("scheduler")


class ChangeListener:
    def __init__(self, stop_event: threading.Event):
        self.stop_event = stop_event
        self._conn = None
        self.reconnected = False

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for a change notification (or the stop event).
        True when woken by a notification or after (re)connecting — either way, look."""
        if connection.vendor != "postgresql":
            self.stop_event.wait(timeout)
            return False
        try:
            if self._conn is None:
                self._conn = self._listen()
                self.reconnected = True
                return True
            readable, _, _ = select.select([self._conn], [], [], timeout)
            if not readable:
                return False
            self._conn.poll()
            woke = bool(self._conn.notifies)
            self._conn.notifies.clear()
            return woke
        except Exception as exc:
            logger.warning("Change notifications interrupted, reconnecting: %s", exc)
            self.close()
            self.stop_event.wait(timeout)
            return True

    def _listen(self):
        conn = dedicated_connection("changes", keepalives_idle=10)
        with conn.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANGES_CHANNEL}")
        return conn

    def take_reconnected(self) -> bool:
        """True once after each (re)connection: notifications may have been missed, so
        the caller reconciles everything."""
        reconnected, self.reconnected = self.reconnected, False
        return reconnected

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
