"""The scheduler process's loop: start the engine, follow changes, stop cleanly.

Run by `manage.py runscheduler` (in its main thread, `run_in_foreground`), by the in-web
scheduler (`in_web`, a daemon thread of each web worker) and by celery beat (a thread of
beat). Whichever holds the scheduler lock fires; the others stand by.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import DatabaseError, close_old_connections

from ..models import SchedulerState
from ..runs import claims, heartbeat
from ..runs.connections import close_stale_connections
from ..runs.heartbeat import owner_name
from . import run_requests
from .changes import ChangeListener
from .lateness import LatenessWatch
from .lock import SchedulerLock, scheduler_lock

if TYPE_CHECKING:
    from ..backends.base import SchedulerBackend

logger = logging.getLogger("scheduler")

# A standby tries the scheduler lock this often (seconds), and a process that lost it
# waits this long before trying again.
STANDBY_RETRY = 1.0
LOST_LOCK_BACKOFF = 3.0
# Besides following the change counter, reconcile everything this often, in case a change
# was written without bumping it (a raw SQL edit, a restored backup).
FULL_RECONCILE_EVERY = 60.0


class SchedulerRunner:
    """Runs the scheduler in this process while it holds the scheduler lock.

    `run()` loops until `stop_event` is set. Without the lock it stands by and tries again
    every second. With it, one thread does the bookkeeping: keep the lock alive (and step
    down the moment it is lost), follow changes (woken by a notification on PostgreSQL,
    else reading the change counter every `SCHEDULER_POLL_INTERVAL`), stamp this process's
    running claims and reap claims whose owner died (every `SCHEDULER_HEARTBEAT_SECONDS`),
    write the engine's store, and reconcile everything every minute.
    """

    def __init__(self, backend_class: type[SchedulerBackend], lock: SchedulerLock | None = None):
        self.backend_class = backend_class
        self.lock = lock or scheduler_lock()
        self.stop_event = threading.Event()
        self.listener = ChangeListener(self.stop_event)
        self.backend: SchedulerBackend | None = None
        self.seen_changes: int | None = None
        self.last_full = 0.0
        self.last_beat = 0.0
        self.lateness = LatenessWatch()
        self.compete_after = 0.0
        self._term = threading.Lock()  # a term starts or ends, never both at once

    @property
    def started(self) -> bool:
        return self.backend is not None

    def run(self) -> None:
        standing_by = False
        while not self.stop_event.is_set():
            try:
                if self.started:
                    if not self.lock.keep_alive():
                        self.step_down()
                        standing_by = False
                        continue
                    self.beat_once()
                    self.poll_once(force=self.listener.take_reconnected())
                    self.backend.housekeeping()
                    self.lateness.tick()
                else:
                    self.beat_once()  # runs left from an earlier term keep their claims
                    if time.monotonic() >= self.compete_after and self.lock.try_acquire():
                        logger.info("Scheduler lock acquired by %s", owner_name())
                        with self._term:  # `stop()` from another thread waits for this
                            if not self.stop_event.is_set():
                                self.start_or_release()
                    elif not standing_by:
                        logger.info("Scheduler lock held by %s, standing by", self.lock.holder())
                        standing_by = True
            except DatabaseError as exc:
                # The next turn reconnects; the engine keeps firing meanwhile.
                logger.warning("Scheduler bookkeeping failed, retrying: %s", exc)
                close_old_connections()
            except Exception:
                logger.exception("Scheduler bookkeeping failed, retrying")
            if self.started:
                self.listener.wait(settings.SCHEDULER_POLL_INTERVAL)
            else:
                self.stop_event.wait(STANDBY_RETRY)

    def start_or_release(self) -> None:
        """`start`, or, if it fails, give the lock back and wait before competing again,
        so a standby can try instead of this process holding a lock it does not use.

        The term starts on a checked connection: the one this thread last used may have
        died with the server while the process stood by (PostgreSQL restarted), and
        starting on it would fail and cost another backoff."""
        try:
            close_stale_connections()
            self.start()
        except BaseException:
            self.lock.release()
            self.compete_after = time.monotonic() + LOST_LOCK_BACKOFF
            raise

    def start(self) -> None:
        """Start firing: reap what a dead holder left running, then start the engine."""
        # Read the counter before the first reconcile: a change committed in between is
        # then seen as new and reconciled again, never lost.
        self.seen_changes = SchedulerState.current()
        # Reap before registering jobs, so a slot left running by a killed scheduler is
        # interrupted (and retried, if allowed) instead of blocking its job.
        retry = claims.reap()
        backend = self.backend_class(guard=self.lock.still_held)
        backend.start()
        self.backend = backend
        self.redeliver(retry)
        self.hand_run_requests()  # asked for while no scheduler ran
        SchedulerState.record_holder(owner_name(), backend.name)
        self.last_full = self.last_beat = time.monotonic()
        self.lateness.restart()

    def redeliver(self, slots: list) -> list:
        """Hand each (job, slot) to the engine; one failure stops no other. Returns the
        ones the engine refused."""
        refused = []
        for job_id, slot in slots:
            try:
                self.backend.redeliver(job_id, slot)
            except Exception:
                logger.exception("Could not redeliver %s slot %s", job_id, slot)
                refused.append((job_id, slot))
        return refused

    def hand_run_requests(self) -> None:
        """ "Run now" requests, each taken once; one the engine refused (it stopped firing,
        a broken pool) is put back and handed over again at the next full reconcile."""
        refused = self.redeliver(run_requests.take())
        if refused:
            run_requests.put_back(refused)

    def step_down(self) -> None:
        """The lock was lost: stop firing at once. Runs already going finish and keep
        their claims alive; the new holder fires everything from here on."""
        logger.error("Scheduler lock lost by %s: stopped firing, standing by", owner_name())
        self.backend.stop_firing()
        self.backend = None
        self.listener.close()
        # Let the standbys (retrying every second) take over before competing again: a
        # process that just lost its lock may well be the one in trouble.
        self.compete_after = time.monotonic() + LOST_LOCK_BACKOFF

    def poll_once(self, force: bool = False) -> bool:
        """Reconcile if the change counter moved (or the slow timer ran out)."""
        current = SchedulerState.current()
        full = force or time.monotonic() - self.last_full >= FULL_RECONCILE_EVERY
        if current == self.seen_changes and not full:
            return False
        self.backend.reconcile(full=full)
        # Only once applied: a reconcile that failed is tried again next turn.
        self.seen_changes = current
        if full:
            self.last_full = time.monotonic()
        # "Run now" requests arrive like changes (a row and a bump), after the reconcile
        # so a job resumed together with its request is registered first.
        self.hand_run_requests()
        return True

    def beat_once(self) -> None:
        """Stamp this process's running claims; the holder also reaps dead owners' claims
        and shows it is alive."""
        if time.monotonic() - self.last_beat < settings.SCHEDULER_HEARTBEAT_SECONDS:
            return
        self.last_beat = time.monotonic()
        heartbeat.beat()
        if self.started:
            SchedulerState.holder_seen(owner_name())
            self.redeliver(claims.reap())

    def stop(self, grace: float) -> int:
        """Hand over at once, then let the runs already going finish.

        Firing stops and the lock is released first, so a successor (the new dyno of a
        restart, already starting, or a standby) takes over now rather than after the
        grace. Runs already going then get up to `grace` seconds, their claims stamped
        meanwhile so the successor leaves them alone; those still going at the end are
        recorded as interrupted. Returns how many.
        """
        self.stop_event.set()
        with self._term:
            backend, self.backend = self.backend, None
            if backend is not None:
                backend.hand_over()
            self.lock.release()
            self.listener.close()
        if backend is None:
            return 0
        stamping_done = threading.Event()
        stamper = threading.Thread(
            target=heartbeat.stamp_until, args=(stamping_done,), name="claims-heartbeat"
        )
        stamper.start()
        try:
            return backend.shutdown(grace)
        finally:
            stamping_done.set()
            stamper.join(10)


def run_in_foreground(backend_class: type[SchedulerBackend], write: Callable[[str], None]) -> str:
    """Run the scheduler in this process's main thread until SIGTERM or SIGINT, then stop
    it within `SCHEDULER_SHUTDOWN_GRACE` (`manage.py runscheduler`). The signal handlers
    only set the stop event: the loop wakes at once and stops."""
    runner = SchedulerRunner(backend_class)
    signal.signal(signal.SIGTERM, lambda signum, frame: runner.stop_event.set())
    signal.signal(signal.SIGINT, lambda signum, frame: runner.stop_event.set())
    runner.run()
    grace = settings.SCHEDULER_SHUTDOWN_GRACE
    if runner.started:
        write(f"Stopping scheduler: running jobs get up to {grace}s to finish")
    interrupted = runner.stop(grace)
    if interrupted:
        # Their threads cannot be killed and would hold the interpreter open: the runs
        # are recorded as interrupted, so leave now.
        write(f"Scheduler stopped; {interrupted} run(s) recorded as interrupted")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return "Scheduler stopped"
