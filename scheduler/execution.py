"""The one execution path: every run, whatever fires it, goes through `run_job`.

Engines call `run_job(job_id, slot=...)` and nothing else, so pickled APScheduler jobs
(`scheduler.execution:run_job`) and Celery messages stay valid however the code around
them moves. The steps of a slot's life live in `scheduler.runs`; this module puts them in
order, and is the one place that records a run's outcome and announces it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
from datetime import datetime

from asgiref.sync import async_to_sync
from django.db import DatabaseError
from django.utils import timezone

from . import registry, signals
from .models import JobRun, one_line
from .runs import claims, outcomes, statements
from .runs.connections import close_stale_connections, reconnecting
from .runs.heartbeat import executing
from .runs.statements import RunSettings

logger = logging.getLogger("scheduler.execution")


def run_job(
    job_id: str,
    slot: datetime | None = None,
    stopped_by: tuple[type[BaseException], ...] = (),
) -> str | None:
    """Run job `job_id` for `slot` at most once, and record how it went.

    1. Close stale connections (the job runs outside a request, like django-apscheduler's
       `close_old_connections`), and load the schedule; a deleted one runs nothing, and a
       paused one runs nothing and records the slot `missed` (it was handed over before
       the pause).
    2. A slot started later than the schedule's misfire grace is recorded `missed`.
    3. Claim the slot: insert its `JobRun` row, unique per (job, slot). If the row exists,
       take it over only when its owner died and another attempt is allowed; otherwise
       the claim is lost and nothing runs.
    4. Overlap: if the schedule's `max_running` live runs were already going, the claim
       turns into a `skipped` record and nothing runs.
    5. Call the task with its arguments (plus `job_id`, `slot` and `attempt` when it asks
       for them), under the schedule's timeout. A failure is retried on the same claim
       while the schedule allows more attempts, after an exponential backoff with jitter;
       each failed attempt's error is kept on the run.
    6. Record the outcome (status, summary, traceback, finish time), its counters and
       health (`outcomes`), log it, and announce it (`signals.run_finished`).

    `stopped_by` names the exceptions the engine raises inside a task to stop it at its
    timeout (Celery's soft time limit): a run ended by one is recorded timed out, not
    failed. Returns the final status, or None when nothing was claimed.
    """
    close_stale_connections()
    try:
        return _run(job_id, slot or timezone.now().replace(microsecond=0), stopped_by)
    finally:
        close_stale_connections()


def _run(job_id: str, slot: datetime, stopped_by: tuple) -> str | None:
    schedule = _load_settings(job_id)
    if schedule is None:
        logger.info("Job %s is no longer scheduled; slot %s not run", job_id, _iso(slot))
        return None
    if not schedule.enabled:
        return _record_paused(schedule, slot)

    now = timezone.now()
    lateness = (now - slot).total_seconds()
    if lateness > schedule.misfire_grace_seconds:
        return _record_late(schedule, slot, lateness)

    run = claims.claim(job_id, slot, now) or claims.take_over(schedule, slot, now)
    if run is None:
        logger.info("Slot %s of %s already claimed; not run again", _iso(slot), job_id)
        outcomes.duplicate(job_id)
        return None
    if claims.over_limit(run, schedule.max_running, now):
        reason = f"skipped: {schedule.max_running} run(s) of this job still going"
        _record(run, JobRun.SKIPPED, timezone.now(), reason, "")
        logger.warning("Skipped %s slot %s: previous run still going", job_id, _iso(slot))
        return JobRun.SKIPPED

    with executing(run):
        return _execute(schedule, slot, run, stopped_by)


def _load_settings(job_id: str) -> RunSettings | None:
    """`statements.load_settings`, through `reconnecting`.

    After PostgreSQL restarts, this thread's connection is dead (and is checked at most
    once a second by `close_stale_connections`), or the server is still starting; a slot
    sent just then must not be lost to it. This is the first statement of a run and only
    reads, so trying again is safe; a slot that gets through late past its grace is
    recorded missed as usual."""
    return reconnecting(lambda: statements.load_settings(job_id), f"before running {job_id}")


def _execute(schedule: RunSettings, slot: datetime, run: JobRun, stopped_by: tuple):
    job_id = schedule.job_id
    logger.info("Running job %s (slot %s, attempt %d)", job_id, _iso(slot), run.attempt)
    try:
        outcome = _attempts(schedule, slot, run, stopped_by)
    except BaseException as exc:
        # Stopped from outside: a worker's shutdown cancelling its tasks once its grace is
        # over (SystemExit), a time limit during a backoff. End the claim now rather than
        # leave it `running` behind a live heartbeat, so whoever gets the message back
        # takes it over as the next attempt; then let the exception go on.
        reason = f"interrupted: stopped from outside ({type(exc).__name__})"
        try:
            _record(run, JobRun.INTERRUPTED, timezone.now(), reason, "")
        except DatabaseError as db_error:  # the exception that stopped the run goes on
            logger.error("Could not record %s interrupted: %s", job_id, one_line(db_error))
        raise
    if outcome is None:
        return None
    status, summary, trace = outcome
    if run.attempt > 1:
        summary = f"{summary} (earlier: {run.summary})"
    finished = timezone.now()
    if not _record(run, status, finished, one_line(summary), trace):
        logger.error(
            "Job %s slot %s %s, but its claim changed meanwhile (taken over, or marked "
            "interrupted by a stopping scheduler); result not recorded",
            job_id,
            _iso(slot),
            status,
        )
        return None
    took = (finished - run.started_at).total_seconds()
    log = logger.info if status == JobRun.SUCCEEDED else logger.error
    log("Job %s %s in %.3fs: %s", job_id, status, took, summary)
    _announce(schedule, slot, status, summary)
    return status


def _record(run: JobRun, status: str, finished: datetime, summary: str, trace: str) -> bool:
    """Write the outcome of `run` and, once written, its counters and health. False when
    the claim is no longer ours (taken over meanwhile): then nothing is recorded.

    The write goes through `reconnecting`: when this thread's connection was cut while
    the task ran (PostgreSQL restarted, or the session terminated), the outcome must not
    be lost with it, or the claim would stay `running` for good, as the holder's reaper
    leaves its own process's claims alone. The write is guarded by the claim (owner,
    attempt, still running), so repeating it is safe. When a repeat matches nothing, the
    first write may have committed before its reply was lost: the row then already says
    what was written."""
    tries = []

    def write() -> bool:
        tries.append(True)
        return statements.finish(run, status, finished, summary, trace)

    written = reconnecting(write, f"recording {run.job_id} slot {_iso(run.scheduled_at)}")
    if not written and len(tries) > 1:
        written = JobRun.objects.filter(
            pk=run.pk, attempt=run.attempt, status=status, finished_at=finished
        ).exists()
    if written:
        outcomes.finished(run, status, finished, summary)
    return written


def _announce(schedule: RunSettings, slot: datetime, status: str, summary: str) -> None:
    """Send `run_finished`; a receiver's error is logged and does not change the run."""
    job_id = schedule.job_id
    for receiver, result in signals.run_finished.send_robust(
        sender=JobRun, job_id=job_id, task=schedule.task, slot=slot, status=status, summary=summary
    ):
        if isinstance(result, Exception):
            logger.error(
                "run_finished receiver %r failed for %s: %s",
                receiver,
                job_id,
                one_line(result),
                exc_info=result,
            )


def _attempts(
    schedule: RunSettings, slot: datetime, run: JobRun, stopped_by: tuple
) -> tuple[str, str, str] | None:
    """Call the task, and again after a backoff while it fails and the schedule allows
    more attempts; return the last attempt's (status, summary, traceback), or None when
    the claim stopped being ours during a backoff."""
    status, summary, trace = _call_task(schedule, slot, run.attempt, stopped_by)
    while status == JobRun.FAILED and run.attempt < schedule.max_attempts:
        failed_at = timezone.now()
        delay = claims.retry_delay(schedule.retry_backoff_seconds, run.attempt)
        logger.warning(
            "Job %s slot %s attempt %d failed (%s); retrying in %.1fs",
            schedule.job_id,
            _iso(slot),
            run.attempt,
            one_line(summary),
            delay,
        )
        time.sleep(delay)
        if not claims.next_attempt(run, one_line(summary), failed_at):
            logger.error(
                "Job %s slot %s: claim changed during the backoff; not retried",
                schedule.job_id,
                _iso(slot),
            )
            return None
        status, summary, trace = _call_task(schedule, slot, run.attempt, stopped_by)
    return status, summary, trace


def _record_paused(schedule: RunSettings, slot: datetime) -> str | None:
    """A slot handed over before its job was paused, that had not started when the pause
    landed (queued behind busy threads, or a message waiting for a worker), is recorded
    missed: a pause applies from the next slot, and this one was already on its way, so
    it must leave a record."""
    reason = "missed: the job was paused before this run started"
    if not claims.record_missed(schedule.job_id, slot, slot, 1, reason):
        return None  # claimed already: it ran (or is running) before the pause
    logger.warning(
        "Missed %s slot %s: the job was paused before it started", schedule.job_id, _iso(slot)
    )
    return JobRun.MISSED


def _record_late(schedule: RunSettings, slot: datetime, lateness: float) -> str | None:
    grace = schedule.misfire_grace_seconds
    reason = f"missed: started {lateness:.0f}s late, grace is {grace}s"
    if not claims.record_missed(schedule.job_id, slot, slot, 1, reason):
        return None
    logger.warning(
        "Missed %s slot %s (%.0fs late, grace %ss)", schedule.job_id, _iso(slot), lateness, grace
    )
    return JobRun.MISSED


def _call_task(
    schedule: RunSettings, slot: datetime, attempt: int, stopped_by: tuple
) -> tuple[str, str, str]:
    """Call the task; return (status, summary, traceback).

    An `async def` task runs on its own event loop through `async_to_sync`, so the ORM
    calls it makes through Django's async adapters run in this worker thread (with this
    thread's connection) rather than all in one shared thread; the timeout cancels it. A
    sync task cannot be stopped from outside: over its timeout, it is recorded as timed
    out when it returns.
    """
    timeout = schedule.timeout_seconds
    started = time.monotonic()
    try:
        func = registry.resolve(schedule.task)
        kwargs = dict(schedule.kwargs or {})
        params = inspect.signature(func).parameters
        if "job_id" in params:
            kwargs["job_id"] = schedule.job_id
        if "slot" in params:
            kwargs["slot"] = slot
        if "attempt" in params:
            kwargs["attempt"] = attempt
        if inspect.iscoroutinefunction(func):
            deadline = None

            async def bounded():
                nonlocal deadline
                async with asyncio.timeout(timeout) as deadline:
                    return await func(**kwargs)

            try:
                result = async_to_sync(bounded)()
            except TimeoutError:
                # Ours only if our deadline fired; a task's own timeout (a socket, say)
                # is a failure with a traceback like any other error.
                if deadline is not None and deadline.expired():
                    return JobRun.TIMED_OUT, f"timed out after {timeout}s (cancelled)", ""
                raise
        else:
            result = func(**kwargs)
    except Exception as exc:
        if isinstance(exc, stopped_by):
            return JobRun.TIMED_OUT, f"timed out after {timeout}s (stopped by the worker)", ""
        return JobRun.FAILED, f"{type(exc).__name__}: {exc}", traceback.format_exc()
    took = time.monotonic() - started
    summary = str(result) if result is not None else "done"
    if took > timeout:
        return (
            JobRun.TIMED_OUT,
            f"timed out: took {took:.1f}s, over its {timeout}s timeout; {summary}",
            "",
        )
    return JobRun.SUCCEEDED, summary, ""


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.get_current_timezone()).isoformat()
