"""Claims on slots: the `JobRun` row is the claim, and the record of how it went.

Every claim is a conditional write that succeeds for exactly one process: the INSERT of the
row (unique per job and slot), or an UPDATE filtered on the state it expects. A claim whose
owner died (`heartbeat.owner_dead`) is marked interrupted, and may be taken over as the
next attempt on the same row, while the schedule allows more attempts and the slot is
inside its grace. Each write that records an outcome tells `outcomes` once it succeeded.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from ..models import SUMMARY_LENGTH, JobRun, Schedule, stale_after
from . import outcomes, statements
from .heartbeat import owner_dead, owner_name

logger = logging.getLogger("scheduler")


def claim(job_id: str, slot: datetime, now: datetime) -> JobRun | None:
    """Insert the running `JobRun` for (job, slot); None when someone else holds it."""
    return statements.claim(job_id, slot, now, owner_name())


def _insert(run: JobRun) -> bool:
    """INSERT one row; False on a unique conflict. A savepoint only when the caller is in
    a transaction: in autocommit (the scheduler's threads) the INSERT is atomic by itself,
    and this runs once per slot."""
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                run.save(force_insert=True)
        else:
            run.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def take_over(schedule, slot: datetime, now: datetime) -> JobRun | None:
    """Claim an existing row of (job, slot) as its next attempt, if its owner died.

    1. A `running` row with a stale heartbeat is first marked interrupted.
    2. An interrupted row is taken over when the schedule allows another attempt and the
       slot is still inside its grace: the same row becomes `running`, attempt + 1, owned
       by this process. The conditional update on (status, attempt) lets one taker win.
    Anything else (finished, alive, out of attempts, too late) is not ours: None.
    """
    run = JobRun.objects.filter(job_id=schedule.job_id, scheduled_at=slot).first()
    if run is None:
        return None
    if run.status == JobRun.RUNNING and owner_dead(run.owner, run.heartbeat_at, now):
        interrupt(run, now)
        run.refresh_from_db()
    if run.status != JobRun.INTERRUPTED:
        return None
    if run.attempt >= schedule.max_attempts:
        _give_up(run)
        return None
    if (now - slot).total_seconds() > schedule.misfire_grace_seconds:
        return None
    history = f"attempt {run.attempt}: {run.summary}"
    taken = JobRun.objects.filter(pk=run.pk, status=JobRun.INTERRUPTED, attempt=run.attempt).update(
        status=JobRun.RUNNING,
        attempt=F("attempt") + 1,
        owner=owner_name(),
        started_at=now,
        heartbeat_at=now,
        finished_at=None,
        summary=history[:SUMMARY_LENGTH],
        attempts=[*run.attempts, _attempt_record(run.attempt, now, run.summary)],
    )
    if taken != 1:
        return None
    run.refresh_from_db()
    logger.warning(
        "Taking over %s slot %s as attempt %d", run.job_id, slot.isoformat(), run.attempt
    )
    return run


def _give_up(run: JobRun) -> None:
    """An interrupted run whose every allowed attempt died with its process is failed, so
    a task that kills its worker each time ends instead of being redelivered for ever."""
    if run.attempt < 2:
        return  # a single attempt that was interrupted stays `interrupted`
    JobRun.objects.filter(pk=run.pk, status=JobRun.INTERRUPTED, attempt=run.attempt).update(
        status=JobRun.FAILED,
        summary=f"failed: gave up after {run.attempt} attempts; last: {run.summary}"[
            :SUMMARY_LENGTH
        ],
    )
    logger.error(
        "Gave up on %s slot %s after %d attempts", run.job_id, run.scheduled_at, run.attempt
    )


def _attempt_record(attempt: int, ended: datetime, error: str) -> dict:
    return {"attempt": attempt, "ended_at": ended.isoformat(), "error": error[:SUMMARY_LENGTH]}


def next_attempt(run: JobRun, error: str, failed_at: datetime) -> bool:
    """Move our own claim on to its next attempt after a failure (a retry), keeping the
    failed attempt's error and end time. False when the claim is no longer ours (taken
    over, or marked interrupted by a stopping scheduler): then nothing more runs."""
    record = _attempt_record(run.attempt, failed_at, error)
    history = f"attempt {run.attempt}: {error}" + (f"; {run.summary}" if run.summary else "")
    updated = JobRun.objects.filter(
        pk=run.pk, owner=run.owner, attempt=run.attempt, status=JobRun.RUNNING
    ).update(
        attempt=F("attempt") + 1,
        heartbeat_at=timezone.now(),
        summary=history[:SUMMARY_LENGTH],
        attempts=[*run.attempts, record],
    )
    if updated != 1:
        return False
    run.attempt += 1
    run.summary = history[:SUMMARY_LENGTH]
    run.attempts = [*run.attempts, record]
    return True


# The longest wait between two attempts (seconds).
RETRY_BACKOFF_CAP = 600


def _longest_wait(base: int, attempt: int) -> int:
    """The longest wait after failed attempt `attempt`: `base` × 2^(attempt-1), capped."""
    return min(RETRY_BACKOFF_CAP, base * 2 ** (attempt - 1))


def retry_delay(base: int, attempt: int) -> float:
    """Exponential backoff with jitter: each wait drawn from the upper half of
    `_longest_wait`, so retries of many jobs do not land together."""
    ceiling = _longest_wait(base, attempt)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def time_budget(timeout: int, max_attempts: int, backoff: int) -> int:
    """The longest a run may take with all its attempts: each attempt's timeout plus the
    longest waits between them (an engine that can stop a run uses this as its limit)."""
    waits = sum(_longest_wait(backoff, n) for n in range(1, max_attempts))
    return timeout * max_attempts + waits


def interrupt(run: JobRun, now: datetime, reason: str = "") -> bool:
    """Mark a running claim interrupted, keeping the error; False if it changed meanwhile."""
    reason = reason or (
        f"interrupted: owner {run.owner} stopped heartbeating "
        f"(last beat {run.heartbeat_at.isoformat() if run.heartbeat_at else 'never'})"
    )
    done = bool(
        JobRun.objects.filter(
            pk=run.pk, status=JobRun.RUNNING, heartbeat_at=run.heartbeat_at
        ).update(status=JobRun.INTERRUPTED, finished_at=now, summary=reason[:SUMMARY_LENGTH])
    )
    if done:
        outcomes.interrupted([run.job_id], reason)
    return done


def reap(now: datetime | None = None) -> list[tuple[str, datetime]]:
    """Mark runs left `running` by a dead owner as interrupted; return the (job, slot)
    pairs that may run again as their next attempt (the caller redelivers them).

    Runs of this process are left alone: it knows which of them are still going.
    """
    now = now or timezone.now()
    running = JobRun.objects.filter(status=JobRun.RUNNING).exclude(owner=owner_name())
    dead = [run for run in running if owner_dead(run.owner, run.heartbeat_at, now)]
    retry = []
    for run in dead:
        if not interrupt(run, now):
            continue
        logger.warning(
            "Run of %s slot %s by %s was interrupted", run.job_id, run.scheduled_at, run.owner
        )
        schedule = Schedule.objects.filter(job_id=run.job_id, enabled=True).first()
        if schedule and run.attempt >= schedule.max_attempts:
            run.refresh_from_db()
            _give_up(run)
        elif (
            schedule and (now - run.scheduled_at).total_seconds() <= schedule.misfire_grace_seconds
        ):
            retry.append((run.job_id, run.scheduled_at))
    return retry


def over_limit(run: JobRun, limit: int, now: datetime) -> bool:
    """True when `limit` live runs of the same job were claimed before `run` (ids
    increase). Checked after the claim, not before, so two slots claimed at the same moment
    cannot both see room; a run whose owner died does not count."""
    return statements.earlier_live_runs(run, now - stale_after(), limit) >= limit


def record_missed(
    job_id: str,
    first: datetime,
    until: datetime,
    count: int,
    reason: str,
    after: datetime | None = None,
) -> bool:
    """Cover the slots from `first` to `until` with one `missed` record (its slot is the
    first, with `missed_count` and `missed_until`), so a long gap is one row, never silence.

    `after` is the slot just before `first`: when a missed range already ends there (a
    restart's gap, then the slots coalesced while the engine started), that range is
    extended instead, so one gap stays one record. Returns False when the first slot was
    already claimed.
    """
    if after is not None:
        extended = JobRun.objects.filter(
            job_id=job_id, status=JobRun.MISSED, missed_until=after
        ).update(missed_until=until, missed_count=F("missed_count") + count)
        if extended:
            outcomes.missed(job_id, count, new_record=False)
            return True
    inserted = _insert(
        JobRun(
            job_id=job_id,
            scheduled_at=first,
            status=JobRun.MISSED,
            owner=owner_name(),
            finished_at=timezone.now(),
            missed_count=count,
            missed_until=until,
            summary=reason[:SUMMARY_LENGTH],
        )
    )
    if inserted:
        outcomes.missed(job_id, count)
    return inserted


def interrupt_own_runs(reason: str) -> int:
    """Mark this process's runs still going as interrupted (the scheduler is stopping and
    could not wait for them). Returns how many."""
    running = JobRun.objects.filter(owner=owner_name(), status=JobRun.RUNNING)
    now = timezone.now()
    # One row at a time: a run that finishes meanwhile is left as it ended, and only the
    # runs really marked are counted, each under its own job.
    cut = [
        job_id
        for pk, job_id in running.values_list("pk", "job_id")
        if JobRun.objects.filter(pk=pk, status=JobRun.RUNNING).update(
            status=JobRun.INTERRUPTED, finished_at=now, summary=reason[:SUMMARY_LENGTH]
        )
    ]
    outcomes.interrupted(cut, reason)
    return len(cut)
