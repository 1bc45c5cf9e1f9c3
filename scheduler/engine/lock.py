"""The scheduler lock: however many processes could run the scheduler, exactly one does.

Every process that could fire jobs (each gunicorn worker with the in-web scheduler, each
`runscheduler`) tries the lock; the holder fires, the others stand by and retry every
second. The slot claim stays as the second line of defence.

- PostgreSQL: a session-level advisory lock on a dedicated autocommit connection, opened in
  the process that uses it (after gunicorn forks). The session is set to end by itself
  when its holder stops talking (`idle_session_timeout`, TCP keepalives), and the holder
  pings it every second, so a frozen or cut-off holder loses the lock within seconds and a
  standby takes over. The holder trusts its lock for a short lease after each successful
  ping; past the lease (say, it was frozen) it must ping again before it fires anything,
  and finds the loss there. The connection must not go through a transaction-pooling
  proxy (session locks need session pooling).
- SQLite: an `flock` on a file beside the database (POSIX locks on the database file
  itself would be dropped whenever SQLite closes a descriptor). The operating system
  releases it the moment its holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from pathlib import Path

from django.db import connection

from ..runs.heartbeat import owner_name
from .sessions import dedicated_connection

logger = logging.getLogger("scheduler")

# The advisory lock key: "altar" as an integer, the same in every process of the hub.
LOCK_KEY = int.from_bytes(b"altar", "big")
# The holder pings every PING_EVERY seconds; the server ends a session idle for
# SESSION_TIMEOUT seconds; the holder trusts the lock for LEASE seconds after a ping.
PING_EVERY = 1.0
SESSION_TIMEOUT = 6
LEASE = 2.0


class SchedulerLock:
    """The contract: acquire without blocking, confirm before firing, release."""

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def still_held(self) -> bool:
        """True while the lock is surely ours; checked before each dispatch."""
        raise NotImplementedError

    def keep_alive(self) -> bool:
        """Called about every second by the holder; False once the lock is lost."""
        return self.still_held()

    def holder(self) -> str:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError


class FileLock(SchedulerLock):
    """An exclusive, non-blocking `flock`; the file holds the holder's `host:pid`."""

    def __init__(self, path: Path | None = None):
        self.path = path or Path(f"{connection.settings_dict['NAME']}.scheduler.lock")
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, owner_name().encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def holder(self) -> str:
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresLock(SchedulerLock):
    """`pg_try_advisory_lock` on a connection of its own, with a lease (see module doc).

    While held, a keeper thread pings the session every `PING_EVERY` seconds, so a busy
    or slow bookkeeping loop never lets the session time out; the pings stop only when the
    whole process stops (frozen, killed), which is exactly when the lock must go.
    """

    def __init__(self):
        self._conn = None
        self._valid_until = 0.0
        self._guard = threading.Lock()  # one statement at a time on the lock session
        self._keeper: threading.Thread | None = None

    def _connect(self):
        conn = dedicated_connection("scheduler")
        with conn.cursor() as cursor:
            # A holder that stops pinging (frozen, stopped) loses its session, and with it
            # the lock; statements never hang longer than that either.
            cursor.execute(f"SET idle_session_timeout = '{SESSION_TIMEOUT}s'")
            cursor.execute(f"SET statement_timeout = '{SESSION_TIMEOUT}s'")
        return conn

    def _query(self, sql: str, params=(), connect: bool = True):
        """Run one statement on the lock session. A ping never reconnects: a new session
        would answer, but it would not hold the lock."""
        with self._guard:
            if self._conn is None or self._conn.closed:
                if not connect:
                    raise ConnectionError("the lock session is gone")
                self._conn = self._connect()
            with self._conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone()

    def try_acquire(self) -> bool:
        if self._conn is not None and self._keeper is not None and self._keeper.is_alive():
            # PostgreSQL would grant the session its own lock again (it stacks): never take
            # it twice, or one release would not free it.
            return self.still_held()
        asked = time.monotonic()
        try:
            got = self._query("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])[0]
        except Exception as exc:
            logger.warning("Could not try the scheduler lock: %s", exc)
            self._drop()
            return False
        if got:
            self._valid_until = asked + LEASE
            self._keeper = threading.Thread(target=self._keep, name="scheduler-lock", daemon=True)
            self._keeper.start()
        return got

    def _keep(self) -> None:
        while self._conn is not None and self.ping():
            time.sleep(PING_EVERY)

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        return time.monotonic() < self._valid_until or self.ping()

    def keep_alive(self) -> bool:
        return self.still_held()

    def ping(self) -> bool:
        """A session that answers still holds its lock: extend the lease."""
        if self._conn is None:
            return False
        # The lease runs from before the question: an answer that sat unread while this
        # process was frozen must not extend it.
        asked = time.monotonic()
        try:
            self._query("SELECT 1", connect=False)
        except Exception as exc:
            if self._conn is not None:
                logger.error("Scheduler lock lost: %s", str(exc).strip().splitlines()[0])
            self._drop()
            return False
        self._valid_until = asked + LEASE
        return True

    def holder(self) -> str:
        """The holder's `host:pid`, from its lock session's application name."""
        try:
            row = self._query(
                "SELECT a.application_name FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted "
                # Advisory locks belong to a database: another hub's on the same server
                # holds the same key without competing with this one.
                "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
                [LOCK_KEY],
            )
        except Exception:
            self._drop()
            return "unknown"
        return row[0].removeprefix("altar-scheduler ") if row else "nobody"

    def release(self) -> None:
        with contextlib.suppress(Exception):
            self._query("SELECT pg_advisory_unlock(%s)", [LOCK_KEY], connect=False)
        self._drop()

    def _drop(self) -> None:
        self._valid_until = 0.0
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def scheduler_lock() -> SchedulerLock:
    """The lock for this database: PostgreSQL's advisory lock, else a file lock."""
    if connection.vendor == "postgresql":
        return PostgresLock()
    return FileLock()
