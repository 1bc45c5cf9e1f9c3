"""The one execution path: every run, whatever fires it, goes through `run_job`.

Engines call `run_job(job_id, slot=...)` and nothing else, so pickled APScheduler jobs (and
later Celery task names) stay valid however the code around them moves.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import socket
import traceback
from datetime import datetime, timedelta

from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from . import registry
from .models import JobRun, Schedule

logger = logging.getLogger("scheduler.execution")

SUMMARY_LENGTH = 500


def owner_name() -> str:
    """`host:pid`, the owner written on every claim this process makes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(job_id: str, slot: datetime | None = None) -> str | None:
    """Run job `job_id` for `slot` at most once, and record how it went.

    1. Close stale connections (the job runs outside a request, like django-apscheduler's
       `close_old_connections`), and load the schedule; a disabled or deleted one runs
       nothing.
    2. A slot started later than the schedule's misfire grace is recorded `missed`.
    3. Claim the slot: insert the `JobRun` row, unique per (job, slot). Whoever inserts
       second lost the claim and runs nothing.
    4. Overlap: if the schedule's `max_running` runs were already going, the claim turns
       into a `skipped` record and nothing runs.
    5. Call the task with its arguments (plus `job_id`/`slot` when it asks for them);
       `async def` tasks run on their own event loop under the schedule's timeout.
    6. Record the outcome (status, summary, traceback, finish time) and log it.

    Returns the final status, or None when nothing was claimed.
    """
    close_stale_connections()
    try:
        return _run(job_id, slot or timezone.now().replace(microsecond=0))
    finally:
        close_stale_connections()


def close_stale_connections() -> None:
    """Django's `close_old_connections`, minus connections inside a transaction: a caller
    that runs a job inside `atomic()` (a test, a shell session) keeps its transaction."""
    for conn in connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()


def _run(job_id: str, slot: datetime) -> str | None:
    schedule = Schedule.objects.filter(job_id=job_id).first()
    if schedule is None or not schedule.enabled:
        logger.info("Job %s is no longer scheduled; slot %s not run", job_id, _iso(slot))
        return None

    now = timezone.now()
    lateness = (now - slot).total_seconds()
    if lateness > schedule.misfire_grace_seconds:
        return _record_missed(job_id, slot, lateness, schedule.misfire_grace_seconds)

    run = _claim(job_id, slot, now)
    if run is None:
        logger.info("Slot %s of %s already claimed; not run again", _iso(slot), job_id)
        return None
    if _over_limit(run, schedule.max_running, schedule.timeout_seconds):
        JobRun.objects.filter(pk=run.pk).update(
            status=JobRun.SKIPPED,
            finished_at=timezone.now(),
            summary=f"skipped: {schedule.max_running} run(s) of this job still going",
        )
        logger.warning("Skipped %s slot %s: previous run still going", job_id, _iso(slot))
        return JobRun.SKIPPED

    logger.info("Running job %s (slot %s)", job_id, _iso(slot))
    status, summary, trace = _call_task(schedule, slot)
    finished = timezone.now()
    JobRun.objects.filter(pk=run.pk).update(
        status=status,
        finished_at=finished,
        heartbeat_at=finished,
        summary=summary[:SUMMARY_LENGTH],
        traceback=trace,
    )
    took = (finished - run.started_at).total_seconds()
    if status == JobRun.SUCCEEDED:
        logger.info("Job %s %s in %.3fs: %s", job_id, status, took, summary)
    else:
        logger.error("Job %s %s in %.3fs: %s", job_id, status, took, summary)
    return status


def _claim(job_id: str, slot: datetime, now: datetime) -> JobRun | None:
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                job_id=job_id,
                scheduled_at=slot,
                started_at=now,
                heartbeat_at=now,
                status=JobRun.RUNNING,
                attempt=1,
                owner=owner_name(),
            )
    except IntegrityError:
        return None


def _over_limit(run: JobRun, limit: int, timeout: int) -> bool:
    """True when `limit` other runs of the job were going before this one was claimed.

    Checked after the claim, not before, so two slots claimed at the same moment cannot
    both see room: each counts only the runs claimed before it (ids are increasing). A
    `running` row older than the timeout plus a minute belongs to a process that died
    mid-run; it must not block the job for ever.
    """
    alive_since = run.started_at - timedelta(seconds=timeout + 60)
    earlier = JobRun.objects.filter(
        job_id=run.job_id, status=JobRun.RUNNING, pk__lt=run.pk, started_at__gte=alive_since
    ).count()
    return earlier >= limit


def _record_missed(job_id: str, slot: datetime, lateness: float, grace: int) -> str | None:
    reason = f"missed: started {lateness:.0f}s late, grace is {grace}s"
    if not record_missed(job_id, [slot], reason):
        return None
    logger.warning("Missed %s slot %s (%.0fs late, grace %ss)", job_id, _iso(slot), lateness, grace)
    return JobRun.MISSED


def record_missed(job_id: str, slots: list[datetime], reason: str) -> bool:
    """Cover `slots` (oldest first) with one `missed` record: its slot is the first, with
    `missed_count` and `missed_until`, so a long gap is one row, never silence. Returns
    False when the first slot was already claimed."""
    try:
        with transaction.atomic():
            JobRun.objects.create(
                job_id=job_id,
                scheduled_at=slots[0],
                status=JobRun.MISSED,
                owner=owner_name(),
                finished_at=timezone.now(),
                missed_count=len(slots),
                missed_until=slots[-1],
                summary=reason,
            )
    except IntegrityError:
        return False
    return True


def _call_task(schedule: Schedule, slot: datetime) -> tuple[str, str, str]:
    """Call the task; return (status, one-line summary, traceback)."""
    try:
        func = registry.resolve(schedule.task)
        kwargs = dict(schedule.kwargs or {})
        params = inspect.signature(func).parameters
        if "job_id" in params:
            kwargs["job_id"] = schedule.job_id
        if "slot" in params:
            kwargs["slot"] = slot
        if inspect.iscoroutinefunction(func):
            result = asyncio.run(asyncio.wait_for(func(**kwargs), timeout=schedule.timeout_seconds))
        else:
            result = func(**kwargs)
    except TimeoutError:
        return JobRun.TIMED_OUT, f"timed out after {schedule.timeout_seconds}s", ""
    except Exception as exc:
        return JobRun.FAILED, _one_line(f"{type(exc).__name__}: {exc}"), traceback.format_exc()
    return JobRun.SUCCEEDED, _one_line(result if result is not None else "done"), ""


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text[: SUMMARY_LENGTH - 1] + "…" if len(text) > SUMMARY_LENGTH else text


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.get_current_timezone()).isoformat()


def interrupt_own_runs(reason: str) -> int:
    """Mark this process's runs still going as interrupted (the scheduler is stopping and
    could not wait for them). Returns how many."""
    now = timezone.now()
    return JobRun.objects.filter(owner=owner_name(), status=JobRun.RUNNING).update(
        status=JobRun.INTERRUPTED, finished_at=now, summary=reason
    )
