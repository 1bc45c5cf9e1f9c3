"""The APScheduler engine: django-apscheduler's job store, our slots, our execution path.

Each enabled `Schedule` becomes one APScheduler job whose function is the stable entry point
`scheduler.execution:run_job` with the job id. Two small pieces make the engine hand our
slots to it, which APScheduler does not do by itself:

- `SlotTrigger` asks `scheduler.slots` for fire times, so APScheduler's run times are our
  slots;
- `SlotExecutor` passes each run time to `run_job` as `slot=`, coalesces itself (the guide's
  `coalesce=True`: only the latest due slot runs) and records the slots it drops as one
  missed range; misfire and overlap decisions are `run_job`'s, which records them.
  APScheduler would drop all of these silently.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
from datetime import datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from django.conf import settings
from django.utils import timezone

from ...execution import run_job
from ...models import Schedule
from ...runs.claims import interrupt_own_runs
from ...runs.continuity import record_dropped, resume_points
from ...slots import Timing
from ..base import ReconcilingBackend
from .store import ScheduleJobStore

logger = logging.getLogger("scheduler")

ENTRY_POINT = "scheduler.execution:run_job"
# Overlap limits are enforced by run_job, so that a skipped slot is recorded; the engine's
# own per-process limit must never drop a slot before run_job sees it.
ENGINE_MAX_INSTANCES = 10_000


class SlotTrigger(BaseTrigger):
    """Fire times from `scheduler.slots`, so a slot is the same value on every engine."""

    def __init__(self, timing: Timing):
        self.timing = timing

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime):
        if previous_fire_time is None:
            return self.timing.next_slot(now, inclusive=True)
        return self.timing.next_slot(previous_fire_time)

    def __str__(self) -> str:
        return self.timing.describe()

    def __repr__(self) -> str:
        return f"<SlotTrigger {self.timing.describe()}>"


class SlotExecutor(ThreadPoolExecutor):
    """A thread pool that calls `run_job(job_id, slot=run_time)` for each run time.

    It keeps the futures it started, so a stopping scheduler can wait for them (bounded)
    and cancel what has not started.
    """

    def __init__(self, max_workers: int, guard=None):
        super().__init__(max_workers)
        # Asked before each dispatch: is the scheduler lock still ours?
        self.guard = guard or (lambda: True)
        self._futures: set[concurrent.futures.Future] = set()
        self._futures_lock = threading.Lock()

    def _do_submit_job(self, job, run_times):
        if not self.guard():
            # The lock is gone (this process was frozen, or cut off): fire nothing. The new
            # holder works these slots out from the run history.
            logger.warning("Not firing %s: the scheduler lock is no longer ours", job.id)
            self._run_job_success(job.id, [])
            return

        def run_slots():
            if not self.guard():
                return []  # queued before the lock was lost: the new holder has these slots
            # Coalesce here rather than in APScheduler, which drops the older run times
            # without a trace: they are recorded as one missed range, the latest runs.
            *dropped, latest = run_times
            if dropped:
                reason = f"coalesced: {len(dropped)} slot(s) due at once, only the latest ran"
                _record_missed_slots(job, dropped, reason)
            job.func(*job.args, slot=latest, **job.kwargs)
            return []

        def done(future: concurrent.futures.Future):
            with self._futures_lock:
                self._futures.discard(future)
            if future.cancelled():
                # Queued when the scheduler stopped: recorded, not silently dropped — unless
                # the lock was lost, and the new holder accounts for these slots itself.
                if self.guard():
                    _record_missed_slots(job, run_times, "missed: the scheduler stopped first")
                self._run_job_success(job.id, [])
            elif future.exception() is not None:
                exc = future.exception()
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        try:
            future = self._pool.submit(run_slots)
        except RuntimeError:  # the pool is shutting down: the scheduler is stopping
            _record_missed_slots(job, run_times, "missed: the scheduler stopped first")
            self._run_job_success(job.id, [])
            return
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(done)

    def shutdown(self, wait=True):
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def run_now(self, job_id: str, slot: datetime) -> None:
        """Hand one (job, slot) to the pool outside the trigger (a redelivery)."""

        def redelivery():
            if self.guard():
                run_job(job_id, slot=slot)

        future = self._pool.submit(redelivery)
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    def wait_for_running(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for started runs; return how many are still going."""
        with self._futures_lock:
            pending = set(self._futures)
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return sum(1 for f in not_done if not f.cancelled())


def _record_missed_slots(job, slots: list[datetime], reason: str) -> None:
    record_dropped(job.id, job.trigger.timing, slots, reason)


class APSchedulerBackend(ReconcilingBackend):
    name = "apscheduler"

    def __init__(self, guard=None):
        super().__init__(guard)
        self.executor = SlotExecutor(settings.SCHEDULER_THREADS, guard)
        self.store = ScheduleJobStore()
        self.engine = BackgroundScheduler(
            jobstores={"default": self.store},
            executors={"default": self.executor},
            job_defaults={
                # SlotExecutor coalesces itself, and records what it drops.
                "coalesce": False,
                "misfire_grace_time": 60,
                "max_instances": ENGINE_MAX_INSTANCES,
            },
            timezone=settings.SCHEDULER_TIMEZONE,
        )

    def start(self) -> None:
        """Start from the `Schedule` rows, not from the store's saved jobs (their next run
        times may be stale): every job is registered afresh at its resume point."""
        self.engine.start(paused=True)
        self.engine.remove_all_jobs()
        self.reconcile(full=True, resume=resume_points(timezone.now()))
        self.engine.resume()
        logger.info("Background scheduler started, backend=%s", self.name)

    def add_job(self, schedule: Schedule, timing: Timing, next_run: datetime | None) -> None:
        self.engine.add_job(
            ENTRY_POINT,
            trigger=SlotTrigger(timing),
            args=[schedule.job_id],
            id=schedule.job_id,
            name=schedule.job_id,
            replace_existing=True,
            next_run_time=next_run,
            misfire_grace_time=schedule.misfire_grace_seconds,
            coalesce=False,
        )

    def remove_job(self, job_id: str) -> None:
        # The engine drops a job whose trigger has no more fire times by itself.
        with contextlib.suppress(JobLookupError):
            self.engine.remove_job(job_id)

    def stop_firing(self) -> None:
        """Stop the engine now, without waiting for or interrupting running jobs."""
        if self.engine.running:
            self.engine.shutdown(wait=False)

    def housekeeping(self) -> None:
        """Write the engine's changed jobs to the store's table."""
        self.store.flush()

    def redeliver(self, job_id: str, slot: datetime) -> None:
        self.executor.run_now(job_id, slot)

    def shutdown(self, grace: float) -> int:
        """Stop firing, let started runs finish for up to `grace` seconds, then record the
        ones still going as interrupted. Returns how many were interrupted."""
        if self.engine.running:
            self.engine.shutdown(wait=False)
        self.store.flush()
        left = self.executor.wait_for_running(grace)
        if left:
            interrupt_own_runs(f"interrupted: the scheduler stopped after a {grace:g}s grace")
        return left
