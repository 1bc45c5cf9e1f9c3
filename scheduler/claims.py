"""Claims on slots: the `JobRun` row is the claim, its heartbeat says its owner is alive.

Every claim is a conditional write that succeeds for exactly one process: the INSERT of the
row (unique per job and slot), or an UPDATE filtered on the state it expects. A claim whose
owner stopped heartbeating is marked interrupted, and may be taken over as the next attempt
on the same row, while the schedule allows more attempts and the slot is inside its grace.

Heartbeats: every process that runs jobs (the scheduler, each Celery worker process) stamps
`heartbeat_at` on the claims it is executing every `SCHEDULER_HEARTBEAT_SECONDS` (default
5 s); a claim is stale after three missed beats.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    close_old_connections,
    connection,
    transaction,
)
from django.db.models import F
from django.utils import timezone

from . import hotpath, jobhealth, stats
from .models import JobRun, Schedule

logger = logging.getLogger("scheduler")

MISSED_BEATS = 3


def owner_name() -> str:
    """`host:pid`, the owner written on every claim this process makes."""
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_after() -> timedelta:
    return timedelta(seconds=settings.SCHEDULER_HEARTBEAT_SECONDS * MISSED_BEATS)


def claim(job_id: str, slot: datetime, now: datetime) -> JobRun | None:
    """Insert the running `JobRun` for (job, slot); None when someone else holds it."""
    return hotpath.claim(job_id, slot, now, owner_name())


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


def take_over(schedule: Schedule, slot: datetime, now: datetime) -> JobRun | None:
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
    if run.status == JobRun.RUNNING and _owner_dead(run, now):
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
        summary=history[:500],
        attempts=[*run.attempts, _attempt_record(run.attempt, now, run.summary)],
    )
    if taken != 1:
        return None
    run.refresh_from_db()
    logger.warning(
        "Taking over %s slot %s as attempt %d", run.job_id, slot.isoformat(), run.attempt
    )
    return run


def _owner_dead(run: JobRun, now: datetime) -> bool:
    """A running claim's owner is dead when its heartbeat is stale, or at once when it is a
    process of this host that no longer exists (a Celery worker child killed mid-run, whose
    message comes straight back)."""
    if run.heartbeat_at and run.heartbeat_at < now - stale_after():
        return True
    return _dead_local_owner(run.owner, socket.gethostname())


def _give_up(run: JobRun) -> None:
    """An interrupted run whose every allowed attempt died with its process is failed, so
    a task that kills its worker each time ends instead of being redelivered for ever."""
    if run.attempt < 2:
        return  # a single attempt that was interrupted stays `interrupted`
    JobRun.objects.filter(pk=run.pk, status=JobRun.INTERRUPTED, attempt=run.attempt).update(
        status=JobRun.FAILED,
        summary=f"failed: gave up after {run.attempt} attempts; last: {run.summary}"[:500],
    )
    logger.error(
        "Gave up on %s slot %s after %d attempts", run.job_id, run.scheduled_at, run.attempt
    )


def _attempt_record(attempt: int, ended: datetime, error: str) -> dict:
    return {"attempt": attempt, "ended_at": ended.isoformat(), "error": error[:500]}


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
        summary=history[:500],
        attempts=[*run.attempts, record],
    )
    if updated != 1:
        return False
    run.attempt += 1
    run.summary = history[:500]
    run.attempts = [*run.attempts, record]
    return True


# The longest wait between two attempts (seconds).
RETRY_BACKOFF_CAP = 600


def retry_delay(base: int, attempt: int) -> float:
    """Exponential backoff with jitter: about `base` × 2^(attempt-1), capped, each wait
    drawn from its upper half so retries of many jobs do not land together."""
    ceiling = min(RETRY_BACKOFF_CAP, base * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def time_budget(timeout: int, max_attempts: int, backoff: int) -> int:
    """The longest a run may take with all its attempts: each attempt's timeout plus the
    longest waits between them (an engine that can stop a run uses this as its limit)."""
    waits = sum(min(RETRY_BACKOFF_CAP, backoff * 2 ** (n - 1)) for n in range(1, max_attempts))
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
        ).update(status=JobRun.INTERRUPTED, finished_at=now, summary=reason[:500])
    )
    if done:
        stats.interrupted([run.job_id])
        jobhealth.record_outcome(run.job_id, JobRun.INTERRUPTED, reason)
    return done


# The claims this process is executing right now (run ids). Only these get heartbeats: a
# claim whose run ended without being recorded (its final write failed) must go stale and
# be reaped, not be kept alive for as long as its process lives.
_live: set[int] = set()
_live_lock = threading.Lock()


@contextmanager
def executing(run: JobRun):
    """Mark `run` as executing in this process for the duration of the block."""
    with _live_lock:
        _live.add(run.pk)
    try:
        yield run
    finally:
        with _live_lock:
            _live.discard(run.pk)


def beat(now: datetime | None = None) -> int:
    """Stamp the heartbeat of the claims this process is executing (one UPDATE)."""
    with _live_lock:
        live = list(_live)
    if not live:
        return 0
    return JobRun.objects.filter(pk__in=live, owner=owner_name(), status=JobRun.RUNNING).update(
        heartbeat_at=now or timezone.now()
    )


def stamp_until(stop: threading.Event) -> None:
    """Stamp this process's running claims every `SCHEDULER_HEARTBEAT_SECONDS` until
    `stop` is set, so a live run is never taken for dead (a thread's loop: a Celery
    worker's, or a stopping scheduler's while its last runs finish)."""
    while not stop.wait(settings.SCHEDULER_HEARTBEAT_SECONDS):
        try:
            close_old_connections()
            beat()
        except DatabaseError as exc:
            logger.warning("Could not stamp running claims, retrying: %s", exc)
        except Exception:
            logger.exception("Could not stamp running claims, retrying")
    connection.close()


def reap(now: datetime | None = None) -> list[tuple[str, datetime]]:
    """Mark runs left `running` by a dead owner as interrupted; return the (job, slot)
    pairs that may run again as their next attempt (the caller redelivers them).

    An owner is dead when its heartbeat is stale, or at once when it is a process of this
    host that no longer exists (a scheduler restarted after SIGKILL need not wait).
    """
    now = now or timezone.now()
    me = owner_name()
    host = socket.gethostname()
    running = JobRun.objects.filter(status=JobRun.RUNNING).exclude(owner=me)
    dead = [
        run
        for run in running
        if (run.heartbeat_at and run.heartbeat_at < now - stale_after())
        or _dead_local_owner(run.owner, host)
    ]
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


def _dead_local_owner(owner: str, host: str) -> bool:
    name, _, pid = owner.rpartition(":")
    if name != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def over_limit(run: JobRun, limit: int, now: datetime) -> bool:
    """True when `limit` live runs of the same job were claimed before `run` (ids
    increase). Checked after the claim, not before, so two slots claimed at the same moment
    cannot both see room; a run whose owner died does not count."""
    return hotpath.earlier_live_runs(run, now - stale_after(), limit) >= limit


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
            stats.missed(job_id, count, new_record=False)
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
            summary=reason[:500],
        )
    )
    if inserted:
        stats.missed(job_id, count)
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
            status=JobRun.INTERRUPTED, finished_at=now, summary=reason[:500]
        )
    ]
    stats.interrupted(cut)
    for job_id in cut:
        jobhealth.record_outcome(job_id, JobRun.INTERRUPTED, reason)
    return len(cut)
