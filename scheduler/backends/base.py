"""The contract every scheduler engine fulfils, the hooks where engines differ, and the
reconcile logic they share."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from django.utils import timezone

from .. import registry
from ..engine.runner import run_in_foreground
from ..models import Schedule
from ..slots import Timing

logger = logging.getLogger("scheduler")

# Rows changed this long before the last reconcile are reloaded too (writers' clocks and
# commit delays).
RECONCILE_CLOCK_MARGIN = timedelta(seconds=5)


class SchedulerBackend:
    """Runs the `Schedule` rows on one engine, in the one process that owns the engine.

    The engine only fires: every run goes through `scheduler.execution.run_job(job_id,
    slot=...)` with a slot computed by `scheduler.slots`.
    """

    name = ""
    # Whether this engine's scheduler may run inside a web process (SCHEDULER_AUTOSTART).
    runs_in_web = True

    @classmethod
    def check_settings(cls) -> list:
        """System check messages about this engine's settings (`manage.py check`)."""
        return []

    @classmethod
    def schedules_changed(cls, job_ids: list[str]) -> None:
        """`Schedule` rows were written (in the writer's transaction, which may roll
        back): an engine that keeps its own copy of the rows updates it here. The
        scheduler process hears of the change anyway (`SchedulerState.bump`)."""

    @classmethod
    def serve(cls, write: Callable[[str], None], verbosity: int = 1) -> str:
        """Run this engine's scheduler process in the foreground until SIGTERM or SIGINT
        (`manage.py runscheduler`); return a closing line."""
        return run_in_foreground(cls, write)

    def __init__(self, guard=None):
        """`guard()` says whether this process still holds the scheduler lock; an engine
        asks it before each dispatch."""
        self.guard = guard

    def start(self) -> None:
        """Start firing jobs, after projecting every enabled schedule into the engine."""
        raise NotImplementedError

    def reconcile(self, full: bool = True) -> list[str]:
        """Make the engine match the `Schedule` rows (all of them, or those changed since
        the last reconcile); return one line per change made."""
        raise NotImplementedError

    def stop_firing(self) -> None:
        """Stop dispatching at once (the lock was lost); running jobs carry on."""
        raise NotImplementedError

    def housekeeping(self) -> None:
        """Periodic upkeep of the engine's own state; the runner calls it every turn."""

    def hand_over(self) -> None:
        """Stop firing and write what a successor reads when it starts (the engine's
        store, the send bookkeeping): after this the scheduler lock may be released,
        before the runs already going have finished."""
        self.stop_firing()
        self.housekeeping()

    def redeliver(self, job_id: str, slot) -> None:
        """Run (job, slot) again through `run_job`, which takes over the claim as the next
        attempt when its owner died (the reaper calls this)."""
        raise NotImplementedError

    def shutdown(self, grace: float) -> int:
        """Stop firing, give running jobs `grace` seconds to finish; return how many
        were still running when the grace ran out."""
        raise NotImplementedError

    @classmethod
    def broker_status(cls) -> tuple[bool, str]:
        """(ok, message) about the engine's message broker, for health checks; an engine
        without one is always fine."""
        return True, f"not used ({cls.name} backend)"


class ReconcilingBackend(SchedulerBackend):
    """An engine holding one job per enabled schedule, kept in step with the rows.

    Subclasses say how to add and remove one engine job (`add_job`, `remove_job`) and which
    schedule fields besides the timing a job is built from (`JOB_FIELDS`); `reconcile`
    works out which jobs to add, replace or remove, for every engine alike.
    """

    # Schedule fields, besides the timing, that an engine job is built from: a change to
    # any of them re-registers the job.
    JOB_FIELDS: tuple[str, ...] = ("misfire_grace_seconds",)

    def __init__(self, guard=None):
        super().__init__(guard)
        self._reconcile_lock = threading.Lock()
        # What each registered job was built from, so a reconcile compares in memory
        # instead of asking the engine.
        self._registered: dict[str, tuple] = {}
        self._reconciled_at: datetime | None = None

    def add_job(self, schedule, timing: Timing, next_run: datetime | None) -> None:
        """Add (or replace) the engine job of `schedule`, first firing at `next_run`."""
        raise NotImplementedError

    def remove_job(self, job_id: str) -> None:
        """Drop the engine job `job_id` (it may already be gone)."""
        raise NotImplementedError

    def built_from(self, values: dict) -> tuple:
        return (Schedule.timing_of(values), *(values[name] for name in self.JOB_FIELDS))

    def reconcile(self, full: bool = True, resume: dict | None = None) -> list[str]:
        """Add, replace or remove engine jobs so they match the enabled schedules.

        An incremental pass looks only at the rows changed since the last pass (with a few
        seconds' margin for clocks), enabled or not, so a toggle costs the same with ten
        thousand schedules as with ten; when a count shows rows were deleted, a full pass
        follows, which compares every row. A job whose trigger and settings are unchanged
        is left alone, keeping its place on the grid. `resume` gives start-up resume points.
        """
        with self._reconcile_lock:
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
            rows = list(enabled.values("job_id", *self.JOB_FIELDS, *Schedule.TIMING_FIELDS))
            wanted = {row["job_id"] for row in rows}
            differ = [
                row["job_id"]
                for row in rows
                if self._registered.get(row["job_id"]) != self.built_from(row)
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
        self.remove_job(job_id)
        del self._registered[job_id]
        return f"Removed job {job_id}"

    def _register(self, schedule: Schedule, resume: dict | None) -> str | None:
        job_id = schedule.job_id
        fields = (*Schedule.TIMING_FIELDS, *self.JOB_FIELDS)
        built_from = self.built_from({name: getattr(schedule, name) for name in fields})
        if self._registered.get(job_id) == built_from:
            return None
        try:
            # Saving checked the arguments; a row written behind the forms' back, or a
            # task this process does not offer, is refused here once, not on every run.
            registry.check_arguments(schedule.task, schedule.kwargs)
        except ValueError as exc:
            logger.error("Not running job %s: %s", job_id, exc)
            return None
        try:
            next_run = resume[job_id] if resume is not None else schedule.next_fire_time()
            self.add_job(schedule, built_from[0], next_run)
        except Exception:
            # One bad row (edited outside the validated forms) must not stop the others;
            # it is retried at the next change or full reconcile.
            logger.exception("Could not register job %s", job_id)
            return None
        self._registered[job_id] = built_from
        return f"Registered job {job_id} ({built_from[0].describe()})"
