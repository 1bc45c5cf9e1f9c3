"""The scheduler process's loop: start the engine, follow changes, stop cleanly.

Used by `manage.py runscheduler` (in its main thread) and by the in-web scheduler that
`altar/wsgi.py` starts (in a daemon thread of each web worker). Whichever holds the
scheduler lock fires; the others stand by.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from . import claims, control, jobhealth
from .backends import get_backend_class
from .backends.base import SchedulerBackend
from .checks import check_scheduler_settings
from .claims import owner_name
from .execution import close_stale_connections
from .leader import SchedulerLock, scheduler_lock
from .models import SchedulerState
from .notify import ChangeListener

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

    def __init__(self, lock: SchedulerLock | None = None):
        self.backend_class = get_backend_class()
        self.lock = lock or scheduler_lock()
        self.stop_event = threading.Event()
        self.listener = ChangeListener(self.stop_event)
        self.backend: SchedulerBackend | None = None
        self.seen_changes: int | None = None
        self.last_full = 0.0
        self.last_beat = 0.0
        self.last_health = 0.0
        self._health_look: threading.Thread | None = None
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
                    self.watch_health()
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
        died with the server while the process stood by (PostgreSQL restarted, fault 3 of
        issue 10), and starting on it would fail and cost another backoff."""
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
        # The first look for late jobs waits a full period: the engine fires what fell
        # due while no scheduler ran (or records it missed) before jobs are judged.
        self.last_full = self.last_beat = self.last_health = time.monotonic()

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
        refused = self.redeliver(control.take_run_requests())
        if refused:
            control.put_back(refused)

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

    def watch_health(self) -> None:
        """Mark jobs late (or on time again) every `SCHEDULER_HEALTH_EVERY` seconds, in a
        thread of its own: with ten thousand schedules a look takes most of a second,
        which this loop (keeping the lock, following changes) must not wait for."""
        if time.monotonic() - self.last_health < settings.SCHEDULER_HEALTH_EVERY:
            return
        if self._health_look is not None and self._health_look.is_alive():
            return
        self.last_health = time.monotonic()
        self._health_look = threading.Thread(target=_look_for_late, name="job-health", daemon=True)
        self._health_look.start()

    def beat_once(self) -> None:
        """Stamp this process's running claims; the holder also reaps dead owners' claims
        and shows it is alive."""
        if time.monotonic() - self.last_beat < settings.SCHEDULER_HEARTBEAT_SECONDS:
            return
        self.last_beat = time.monotonic()
        claims.beat()
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
            target=claims.stamp_until, args=(stamping_done,), name="claims-heartbeat"
        )
        stamper.start()
        try:
            return backend.shutdown(grace)
        finally:
            stamping_done.set()
            stamper.join(10)


def _look_for_late() -> None:
    """One look for late jobs (idempotent: each change is a conditional update), on its
    own connection, closed afterwards."""
    try:
        jobhealth.mark_late()
    except Exception:
        logger.exception("Looking for late jobs failed; trying again next period")
    finally:
        connections.close_all()


_in_web: SchedulerRunner | None = None


def autostart_in_web() -> SchedulerRunner | None:
    """Run the scheduler in this web process when `SCHEDULER_AUTOSTART` is on.

    Every worker starts a runner; the scheduler lock lets one of them fire and the others
    stand by. Settings errors are logged (a web server does not run `manage.py check`).
    """
    global _in_web
    if _in_web is not None:
        return _in_web
    errors = check_scheduler_settings()
    for error in errors:
        logger.error("Scheduler not started: %s (%s) %s", error.msg, error.id, error.hint)
    if errors or settings.SCHEDULER_AUTOSTART is not True or settings.SCHEDULER_BACKEND == "celery":
        return None  # under Celery, beat schedules (see check scheduler.W001)
    runner = SchedulerRunner()
    threading.Thread(target=runner.run, name="scheduler", daemon=True).start()
    atexit.register(stop_in_web)
    _in_web = runner
    return runner


def stop_in_web() -> None:
    """Stop the in-web scheduler within `SCHEDULER_SHUTDOWN_GRACE` (gunicorn's
    `worker_exit` hook calls this before the interpreter starts joining threads)."""
    global _in_web
    if _in_web is None:
        return
    interrupted = _in_web.stop(settings.SCHEDULER_SHUTDOWN_GRACE)
    _in_web = None
    if interrupted:
        # The cut runs are recorded; their threads cannot be stopped and would keep this
        # worker alive until gunicorn kills it (28 s, close to Heroku's 30): leave now,
        # as `runscheduler` does.
        logger.info("Scheduler stopped; %d run(s) recorded as interrupted", interrupted)
        logging.shutdown()
        os._exit(0)
