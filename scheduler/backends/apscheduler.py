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
import pickle
import threading
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_apscheduler.jobstores import DjangoJobStore
from django_apscheduler.models import DjangoJob
from django_apscheduler.util import get_django_internal_datetime

from ..claims import interrupt_own_runs, record_missed
from ..continuity import resume_points
from ..execution import run_job
from ..models import Schedule
from ..slots import Timing
from .base import SchedulerBackend

logger = logging.getLogger("scheduler")

ENTRY_POINT = "scheduler.execution:run_job"
# Rows changed this long before the last reconcile are reloaded too (writers' clocks and
# commit delays).
RECONCILE_CLOCK_MARGIN = timedelta(seconds=5)
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
    """One missed range for `slots` (consecutive, oldest first), joined to a range that
    ends just before them."""
    before = job.trigger.timing.slot_at_or_before(slots[0] - timedelta(microseconds=1))
    try:
        record_missed(job.id, slots[0], slots[-1], len(slots), reason, after=before)
    except Exception:
        logger.exception("Could not record missed slots of %s", job.id)


class ScheduleJobStore(DjangoJobStore):
    """django-apscheduler's store, kept in memory and written behind to its table.

    The engine's one thread dispatches every slot and, with the stock store, wrote the
    job's row once per run (a transaction, SELECT ... FOR UPDATE, a full save) before
    dispatching the next: under load that round trip, not the jobs, set the pace. Only
    this process writes the store, and the hub rebuilds it from `Schedule` and `JobRun` at
    every start, so reads are served from memory and changed jobs are written in batches
    by `flush()` (the runner calls it every half second). The `django_apscheduler_djangojob`
    table still shows every job and its next run time, at most a moment behind.

    Its execution-log listeners are off too: `JobRun` is the one history.
    """

    def __init__(self, pickle_protocol: int = pickle.HIGHEST_PROTOCOL):
        super().__init__(pickle_protocol)
        self._memory = MemoryJobStore()
        self._dirty: set[str] = set()
        self._dirty_lock = threading.Lock()

    def start(self, scheduler, alias):
        super().start(scheduler, alias)
        self._memory.start(scheduler, alias)

    def register_event_listeners(self):
        pass

    def lookup_job(self, job_id):
        return self._memory.lookup_job(job_id)

    def get_due_jobs(self, now):
        return self._memory.get_due_jobs(now)

    def get_next_run_time(self):
        return self._memory.get_next_run_time()

    def get_all_jobs(self):
        return self._memory.get_all_jobs()

    def add_job(self, job):
        self._memory.add_job(job)
        self._mark(job.id)

    def update_job(self, job):
        self._memory.update_job(job)
        self._mark(job.id)

    def remove_job(self, job_id):
        self._memory.remove_job(job_id)
        self._mark(job_id)

    def remove_all_jobs(self):
        self._memory.remove_all_jobs()
        with self._dirty_lock:
            self._dirty.clear()
        DjangoJob.objects.all().delete()

    def _mark(self, job_id: str) -> None:
        with self._dirty_lock:
            self._dirty.add(job_id)

    def flush(self) -> int:
        """Write the jobs changed since the last flush (delete and re-insert, in batches,
        in one transaction). Returns how many job ids were written."""
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        if not dirty:
            return 0
        rows = []
        for job_id in dirty:
            job = self._memory.lookup_job(job_id)
            if job is not None:
                rows.append(
                    DjangoJob(
                        id=job.id,
                        next_run_time=get_django_internal_datetime(job.next_run_time),
                        job_state=pickle.dumps(job.__getstate__(), self.pickle_protocol),
                    )
                )
        ids = list(dirty)
        with transaction.atomic():
            for start in range(0, len(ids), 500):
                DjangoJob.objects.filter(id__in=ids[start : start + 500]).delete()
            DjangoJob.objects.bulk_create(rows, batch_size=500)
        return len(dirty)


class APSchedulerBackend(SchedulerBackend):
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
        self._lock = threading.Lock()
        # What each registered job was built from, so a reconcile compares in memory
        # instead of unpickling every job from the store.
        self._registered: dict[str, tuple[Timing, int]] = {}
        self._reconciled_at: datetime | None = None

    def start(self) -> None:
        """Start from the `Schedule` rows, not from the store's saved jobs (their next run
        times may be stale): every job is registered afresh at its resume point."""
        self.engine.start(paused=True)
        self.engine.remove_all_jobs()
        self.reconcile(full=True, resume=resume_points(timezone.now()))
        self.engine.resume()
        logger.info("Background scheduler started, backend=%s", self.name)

    def reconcile(self, full: bool = True, resume: dict | None = None) -> list[str]:
        """Add, replace or remove engine jobs so they match the enabled schedules.

        An incremental pass looks only at the rows changed since the last pass (with a few
        seconds' margin for clocks), enabled or not, so a toggle costs the same with ten
        thousand schedules as with ten; when a count shows rows were deleted, a full pass
        follows, which compares every row. A job whose trigger and grace are unchanged is
        left alone, keeping its place on the grid. `resume` gives start-up resume points.
        """
        with self._lock:
            started = timezone.now()
            if full or self._reconciled_at is None:
                changes = self._full_pass(resume)
            else:
                since = self._reconciled_at - RECONCILE_CLOCK_MARGIN
                changes = self._apply(Schedule.objects.filter(updated_at__gte=since), resume)
                # A deleted row leaves no changed row behind; an index-only count shows
                # the registered jobs no longer match, and a full pass drops its job.
                if Schedule.objects.filter(enabled=True).count() != len(self._registered):
                    changes += self._full_pass(None)
            self._reconciled_at = started
            for line in changes:
                logger.info(line)
            return changes

    def _full_pass(self, resume: dict | None) -> list[str]:
        changes = []
        enabled = Schedule.objects.filter(enabled=True)
        if resume is None:
            # Compare plain values and load only the rows that differ from what is
            # registered: building ten thousand model instances each minute held up the
            # toggles queued behind this pass.
            fields = ("job_id", "misfire_grace_seconds", *Schedule.TIMING_FIELDS)
            rows = list(enabled.values(*fields))
            wanted = {row["job_id"] for row in rows}
            differ = [
                row["job_id"]
                for row in rows
                if self._registered.get(row["job_id"])
                != (Schedule.timing_of(row), row["misfire_grace_seconds"])
            ]
            enabled = Schedule.objects.filter(enabled=True, job_id__in=differ)
        else:
            enabled = list(enabled)
            wanted = {schedule.job_id for schedule in enabled}
        for job_id in self._registered.keys() - wanted:
            changes.append(self._unregister(job_id))
        return changes + self._apply(enabled, resume)

    def _apply(self, schedules, resume: dict | None) -> list[str]:
        changes = []
        for schedule in schedules:
            if not schedule.enabled:
                if schedule.job_id in self._registered:
                    changes.append(self._unregister(schedule.job_id))
                continue
            line = self._register(schedule, resume)
            if line:
                changes.append(line)
        return changes

    def _unregister(self, job_id: str) -> str:
        # The engine drops a job whose trigger has no more fire times by itself.
        with contextlib.suppress(JobLookupError):
            self.engine.remove_job(job_id)
        del self._registered[job_id]
        return f"Removed job {job_id}"

    def _register(self, schedule: Schedule, resume: dict | None) -> str | None:
        job_id = schedule.job_id
        built_from = (schedule.timing, schedule.misfire_grace_seconds)
        if self._registered.get(job_id) == built_from:
            return None
        try:
            next_run = resume[job_id] if resume is not None else schedule.next_fire_time()
            self.engine.add_job(
                ENTRY_POINT,
                trigger=SlotTrigger(built_from[0]),
                args=[job_id],
                id=job_id,
                name=job_id,
                replace_existing=True,
                next_run_time=next_run,
                misfire_grace_time=schedule.misfire_grace_seconds,
                coalesce=False,
            )
        except Exception:
            # One bad row (edited outside the validated forms) must not stop the others;
            # it is retried at the next change or full reconcile.
            logger.exception("Could not register job %s", job_id)
            return None
        self._registered[job_id] = built_from
        return f"Registered job {job_id} ({built_from[0].describe()})"

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
