"""The Celery engine: each enabled schedule's next slot on a heap, sent by celery beat.

It runs inside beat (`beat.HubScheduler`), under the same `SchedulerRunner` as the
APScheduler engine: the runner's bookkeeping thread holds the scheduler lock, follows
changes (`reconcile`), stamps and reaps claims; beat's own loop calls `take_due` every tick
and sends one run message per slot (`tasks.RUN_TASK`). Workers run the slot through the one
execution path, which claims and records it.

Slots come from our `Schedule` anchors (`scheduler.slots`), never from a `last_run_at`:
stock beat computes interval runs from the last send time, saved only now and then, so
a restart moves the grid and can send a slot twice or skip one.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.checks import Error, Warning
from django.utils import timezone

from ...models import Schedule
from ...runs import claims
from ...runs.continuity import resume_points
from ...slots import Timing
from ..base import ReconcilingBackend
from . import broker, projection
from .beat import run_beat

logger = logging.getLogger("scheduler")

# How often (seconds) send counts are written to the projected `PeriodicTask` rows.
BOOKKEEPING_EVERY = 5.0


@dataclass
class Entry:
    """What beat needs to send a job's slots, and the next one it will send."""

    timing: Timing
    queue: str
    budget: int
    generation: int
    next_slot: datetime | None


@dataclass(frozen=True)
class Dispatch:
    """One message to send: run `slot` of `job_id` on `queue`, stopped after `budget`
    seconds (every attempt's timeout and the backoffs between them)."""

    job_id: str
    slot: datetime
    queue: str
    budget: int


class CeleryBackend(ReconcilingBackend):
    name = "celery"
    # Beat schedules, in its own process (`runscheduler`, or a worker's `-B`).
    runs_in_web = False
    # A new queue, timeout or retry policy changes the messages, so it re-registers the
    # job (keeping its next slot: see `add_job`).
    JOB_FIELDS = (
        "misfire_grace_seconds",
        "queue",
        "timeout_seconds",
        "max_attempts",
        "retry_backoff_seconds",
    )

    def __init__(self, guard=None):
        super().__init__(guard)
        self._entries: dict[str, Entry] = {}
        # (next slot, generation, job id); an item whose generation is no longer its
        # entry's was replaced or removed, and is skipped when it comes up.
        self._heap: list[tuple[datetime, int, str]] = []
        # Sent before anything else at the next tick: redeliveries, and sends that failed.
        self._outbox: list[Dispatch] = []
        # Re-entrant: `celery beat`'s own SIGTERM handler closes the scheduler on the main
        # thread, possibly while that thread is inside `take_due`.
        self._lock = threading.RLock()
        self._generations = itertools.count()
        self._sent: Counter[str] = Counter()
        self._last_sent: dict[str, datetime] = {}
        self._recorded_at = 0.0
        self.firing = False

    def start(self) -> None:
        """Project every schedule into django-celery-beat's table (rows written while
        another backend ran were not), then load each job at its resume point."""
        projection.sync_all()
        sent = projection.last_sent()
        for job_id, slot in broker.waiting_in_broker().items():
            if job_id not in sent or slot > sent[job_id]:
                sent[job_id] = slot
        resume = resume_points(timezone.now(), sent)
        self.reconcile(full=True, resume=resume)
        self.firing = True
        logger.info("Background scheduler started, backend=%s", self.name)

    def add_job(self, schedule: Schedule, timing: Timing, next_run: datetime | None) -> None:
        """Add or replace a job. A job re-registered on the same grid (a new queue or
        timeout) keeps its next slot: the slots already sent may still be queued, and
        starting again from the run history would count them as missed."""
        budget = claims.time_budget(
            schedule.timeout_seconds, schedule.max_attempts, schedule.retry_backoff_seconds
        )
        with self._lock:
            old = self._entries.get(schedule.job_id)
            if old is not None and old.timing == timing and old.next_slot is not None:
                next_run = old.next_slot
            generation = next(self._generations)
            self._entries[schedule.job_id] = Entry(
                timing, schedule.queue, budget, generation, next_run
            )
            if next_run is not None:
                heapq.heappush(self._heap, (next_run, generation, schedule.job_id))

    def remove_job(self, job_id: str) -> None:
        with self._lock:
            self._entries.pop(job_id, None)

    def take_due(self, now: datetime) -> tuple[list[Dispatch], list[tuple[str, Timing, list]]]:
        """Everything to send now, and the slots dropped by coalescing.

        Each job's latest due slot is sent; if several were due at once (beat was held up),
        the older ones are returned as dropped, for the caller to record as one missed
        range — the guide's `coalesce=True`, with nothing dropped silently.
        """
        dropped: list[tuple[str, Timing, list]] = []
        with self._lock:
            if not self.firing:
                return [], []
            waiting, self._outbox = self._outbox, []
            latest: dict[str, Dispatch] = {}
            while self._heap and self._heap[0][0] <= now:
                slot, generation, job_id = heapq.heappop(self._heap)
                entry = self._entries.get(job_id)
                if entry is None or entry.generation != generation:
                    continue
                due = [slot]
                following = entry.timing.next_slot(slot)
                while following is not None and following <= now:
                    due.append(following)
                    following = entry.timing.next_slot(following)
                entry.next_slot = following
                if following is not None:
                    heapq.heappush(self._heap, (following, generation, job_id))
                if len(due) > 1:
                    dropped.append((job_id, entry.timing, due[:-1]))
                latest[job_id] = Dispatch(job_id, due[-1], entry.queue, entry.budget)
            # A slot still unsent from before (the broker was down) gives way to a newer
            # one of the same job: coalesced, so an outage cannot pile up messages.
            dispatches = []
            for dispatch in waiting:
                newer = latest.get(dispatch.job_id)
                entry = self._entries.get(dispatch.job_id)
                if newer is not None and newer.slot > dispatch.slot and entry is not None:
                    dropped.append((dispatch.job_id, entry.timing, [dispatch.slot]))
                else:
                    dispatches.append(dispatch)
            dispatches += latest.values()
        return dispatches, dropped

    def seconds_until_due(self, now: datetime) -> float:
        with self._lock:
            if self._outbox:
                return 0.0
            if not self._heap:
                return float("inf")
            return max(0.0, (self._heap[0][0] - now).total_seconds())

    def sent(self, dispatches: list[Dispatch]) -> None:
        """Count what was sent, for the bookkeeping columns of the projected rows."""
        with self._lock:
            for dispatch in dispatches:
                self._sent[dispatch.job_id] += 1
                self._last_sent[dispatch.job_id] = dispatch.slot

    def unsent(self, dispatches: list[Dispatch]) -> None:
        """Sends that failed (the broker is down): first in line at the next tick. A slot
        that gets there past its grace is recorded missed by the worker."""
        with self._lock:
            if self.firing:
                self._outbox[:0] = dispatches

    def redeliver(self, job_id: str, slot: datetime) -> None:
        """Queue (job, slot) for the next send; refused (raises) when this beat no longer
        fires, and dropped with a warning when the job is no longer scheduled."""
        with self._lock:
            if not self.firing:
                raise RuntimeError("this beat no longer fires (the scheduler lock was lost)")
            entry = self._entries.get(job_id)
            if entry is None:
                logger.warning(
                    "Not sending %s slot %s: the job is no longer scheduled", job_id, slot
                )
                return
            self._outbox.append(Dispatch(job_id, slot, entry.queue, entry.budget))

    def housekeeping(self, force: bool = False) -> None:
        """Write the send counts into django-celery-beat's bookkeeping columns, every few
        seconds (the runner calls this several times a second)."""
        if not force and time.monotonic() - self._recorded_at < BOOKKEEPING_EVERY:
            return
        self._recorded_at = time.monotonic()
        with self._lock:
            sent, self._sent = self._sent, Counter()
            last, self._last_sent = self._last_sent, {}
        if sent:
            projection.record_sends(sent, last)

    def stop_firing(self) -> None:
        with self._lock:
            self.firing = False
            self._heap.clear()
            self._outbox.clear()

    def hand_over(self) -> None:
        self.stop_firing()
        self.housekeeping(force=True)

    def shutdown(self, grace: float) -> int:
        """Stop sending. Runs happen on the workers, which finish or redeliver them."""
        self.hand_over()
        return 0

    @classmethod
    def broker_status(cls) -> tuple[bool, str]:
        return broker.status()

    @classmethod
    def schedules_changed(cls, job_ids: list[str]) -> None:
        """Mirror the rows into django-celery-beat's table (`projection`)."""
        projection.project(job_ids)

    @classmethod
    def serve(cls, write, verbosity: int = 1) -> str:
        """celery beat with the hub's scheduler class; beat's own SIGTERM/SIGINT handling
        stops it and releases the scheduler lock."""
        run_beat(quiet=verbosity < 1)
        return "Scheduler stopped"

    @classmethod
    def check_settings(cls) -> list:
        messages = []
        if not settings.REDIS_URL:
            messages.append(
                Error(
                    "SCHEDULER_BACKEND=celery needs a broker, and REDIS_URL is not set.",
                    hint="Set REDIS_URL, e.g. redis://127.0.0.1:6379/0 (Heroku Redis sets it).",
                    id="scheduler.E006",
                )
            )
        if settings.SCHEDULER_AUTOSTART is True:
            messages.append(
                Warning(
                    "SCHEDULER_AUTOSTART=true is ignored with SCHEDULER_BACKEND=celery: the "
                    "web process never runs a scheduler on this backend.",
                    hint="Run `python manage.py runscheduler` (celery beat) or a worker with "
                    "-B, and unset SCHEDULER_AUTOSTART.",
                    id="scheduler.W001",
                )
            )
        return messages
