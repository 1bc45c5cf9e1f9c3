"""The scheduler process's loop: start the engine, follow changes, stop cleanly.

Used by `manage.py runscheduler` (in its main thread) and by the in-web scheduler that
`altar/wsgi.py` starts (in a daemon thread).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from . import claims
from .backends import get_backend_class
from .models import SchedulerState

logger = logging.getLogger("scheduler")

# Besides following the change counter, reconcile everything this often, in case a change
# was written without bumping it (a raw SQL edit, a restored backup).
FULL_RECONCILE_EVERY = 60.0


class SchedulerRunner:
    """Owns this process's engine and keeps it in step with the `Schedule` rows.

    Its loop, one thread with one database connection, does the bookkeeping on timers:
    follow the change counter (every `SCHEDULER_POLL_INTERVAL`), stamp the heartbeat of
    this process's running claims and reap claims whose owner died (every
    `SCHEDULER_HEARTBEAT_SECONDS`), and reconcile everything (every minute).
    """

    def __init__(self):
        self.backend = get_backend_class()()
        self.seen_changes: int | None = None
        self.last_full = 0.0
        self.last_beat = 0.0

    def start(self) -> None:
        # Read the counter before the first reconcile: a change committed in between is
        # then seen as new and reconciled again, never lost.
        self.seen_changes = SchedulerState.current()
        # Reap before registering jobs, so a slot left running by a killed scheduler is
        # interrupted (and retried, if allowed) instead of blocking its job.
        retry = claims.reap()
        self.backend.start()
        for job_id, slot in retry:
            self.backend.redeliver(job_id, slot)
        self.last_full = self.last_beat = time.monotonic()

    def poll_once(self) -> bool:
        """Reconcile if the change counter moved (or the slow timer ran out)."""
        current = SchedulerState.current()
        due = time.monotonic() - self.last_full >= FULL_RECONCILE_EVERY
        if current == self.seen_changes and not due:
            return False
        self.seen_changes = current
        self.last_full = time.monotonic()
        self.backend.reconcile()
        return True

    def beat_once(self) -> None:
        """Stamp this process's running claims, then reap dead owners' claims."""
        if time.monotonic() - self.last_beat < settings.SCHEDULER_HEARTBEAT_SECONDS:
            return
        self.last_beat = time.monotonic()
        claims.beat()
        for job_id, slot in claims.reap():
            self.backend.redeliver(job_id, slot)

    def run_until(self, should_stop: Callable[[], bool]) -> None:
        """Loop until `should_stop()`, sleeping in slices of `SCHEDULER_POLL_INTERVAL`."""
        while not should_stop():
            try:
                self.beat_once()
                self.poll_once()
            except DatabaseError as exc:
                # The next turn reconnects; the engine keeps firing meanwhile.
                logger.warning("Scheduler bookkeeping failed, retrying: %s", exc)
                close_old_connections()
            time.sleep(settings.SCHEDULER_POLL_INTERVAL)

    def stop(self, grace: float) -> int:
        """Stop the engine; return how many runs were interrupted."""
        return self.backend.shutdown(grace)


_in_web: SchedulerRunner | None = None


def autostart_in_web() -> SchedulerRunner | None:
    """Start the scheduler inside this web process when `SCHEDULER_AUTOSTART` is on.

    Until the scheduler lock lands, only one web process may do this (see README).
    """
    global _in_web
    if settings.SCHEDULER_AUTOSTART is not True or _in_web is not None:
        return _in_web
    runner = SchedulerRunner()
    runner.start()
    stopping = threading.Event()
    thread = threading.Thread(
        target=runner.run_until, args=(stopping.is_set,), name="scheduler-changes", daemon=True
    )
    thread.start()

    def stop() -> None:
        stopping.set()
        runner.stop(settings.SCHEDULER_SHUTDOWN_GRACE)

    atexit.register(stop)
    _in_web = runner
    return runner
