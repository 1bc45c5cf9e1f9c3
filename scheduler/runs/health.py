"""Each job's health — ok, late or failing — kept on `JobHealth`, with one alert per change.

- Failing: `SCHEDULER_FAILING_AFTER` runs in a row ended failed, timed out or
  interrupted. Runs update the streak as they end (`record_outcome`); a success ends it.
- Late: an enabled job whose next slot is older than its misfire grace with nothing
  recorded for it. Only the passage of time makes a job late, so the scheduler's
  bookkeeping looks every `SCHEDULER_HEALTH_EVERY` seconds (`mark_late`).
- Paused is not stored: it is the schedule's `enabled`.

Every change is a conditional update on the state read, so of two processes seeing the
same change one writes it and one alert goes out.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import SUMMARY_LENGTH, JobHealth, JobRun, Schedule
from . import alerts

logger = logging.getLogger("scheduler")

FAILURES = {JobRun.FAILED, JobRun.TIMED_OUT, JobRun.INTERRUPTED}


# Jobs this process saw healthy (no streak) lately: a success on one of them writes
# nothing, so it need not even read its row — this runs once per slot. Another process
# may mark the job failing meanwhile; a success here then clears it within this long.
HEALTHY_FOR = 10.0
_healthy: dict[str, float] = {}


def record_outcome(job_id: str, status: str, summary: str = "") -> None:
    """Update the failure streak of `job_id` after a run ended with `status`.

    A success on a healthy job writes nothing, and reads nothing if this process saw it
    healthy in the last `HEALTHY_FOR` seconds (the common case).
    """
    if status != JobRun.SUCCEEDED and status not in FAILURES:
        return  # skipped and missed runs say nothing about the job's own code
    if status == JobRun.SUCCEEDED:
        if time.monotonic() - _healthy.get(job_id, -HEALTHY_FOR) < HEALTHY_FOR:
            return
    else:
        _healthy.pop(job_id, None)
    try:
        for _ in range(3):  # a concurrent writer changed the row: read it again
            if _apply_outcome(job_id, status, summary):
                if status == JobRun.SUCCEEDED:
                    _healthy[job_id] = time.monotonic()
                return
    except Exception:
        logger.exception("Could not update the health of %s", job_id)


def _apply_outcome(job_id: str, status: str, summary: str) -> bool:
    row = JobHealth.objects.filter(job_id=job_id).values("state", "failures_in_a_row").first()
    old_state = row["state"] if row else JobHealth.OK
    old_failures = row["failures_in_a_row"] if row else 0
    failures = old_failures + 1 if status in FAILURES else 0
    state = JobHealth.FAILING if failures >= settings.SCHEDULER_FAILING_AFTER else JobHealth.OK
    if (state, failures) == (old_state, old_failures):
        return True
    reason = (
        f"{failures} failure(s) in a row; last: {summary}"
        if state == JobHealth.FAILING
        else f"last run {status}"
    )
    if not _write(job_id, row, old_state, old_failures, state, failures, reason):
        return False
    if state != old_state:
        alerts.state_changed(job_id, old_state, state, reason)
    return True


def _write(job_id, row, old_state, old_failures, state, failures, reason) -> bool:
    changed = {"changed_at": timezone.now()} if state != old_state else {}
    fields = {
        "state": state,
        "failures_in_a_row": failures,
        "reason": reason[:SUMMARY_LENGTH],
        **changed,
    }
    if row is None:
        try:
            with transaction.atomic():
                JobHealth.objects.create(job_id=job_id, **fields)
        except IntegrityError:
            return False
        return True
    return bool(
        JobHealth.objects.filter(
            job_id=job_id, state=old_state, failures_in_a_row=old_failures
        ).update(**fields)
    )


def late_jobs(now: datetime) -> dict[str, str]:
    """The enabled jobs that are late now, each with the reason.

    A job is late when its next slot after the newest one recorded (or, with none since
    it was enabled, its first slot since then) is older than its misfire grace: the
    engine should have run it or recorded it missed by now. One query for every schedule.
    """
    schedules = Schedule.objects.filter(enabled=True).only(
        "job_id", "enabled", "enabled_at", "misfire_grace_seconds", *Schedule.TIMING_FIELDS
    )
    late = {}
    for schedule in JobRun.objects.with_last_recorded_slot(schedules):
        reason = lateness(schedule, schedule.last_recorded_slot, now)
        if reason:
            late[schedule.job_id] = reason
    return late


def lateness(schedule: Schedule, last: datetime | None, now: datetime) -> str | None:
    """Why an enabled `schedule` is late at `now`, given the newest slot recorded for it
    (`last`), or None. The status pages ask it at read time for the rows they show, so a
    job is late whether or not a scheduler runs to mark it."""
    since = schedule.enabled_at
    try:
        if last is not None and (since is None or last >= since):
            due = schedule.timing.next_slot(last)
        elif since is not None:
            due = schedule.timing.next_slot(since, inclusive=True)
        else:
            return None
    except Exception:  # a row edited into nonsense outside the forms
        return None
    if due is None:
        return None
    overdue = (now - due).total_seconds()
    if overdue <= schedule.misfire_grace_seconds:
        return None
    moment = timezone.localtime(due).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"slot {moment} not run, {overdue:.0f}s late (grace {schedule.misfire_grace_seconds}s)"


def mark_late(now: datetime | None = None) -> list[str]:
    """Mark late jobs `late` and jobs no longer late `ok` (failing stays failing: it is
    the stronger news). Returns one line per change."""
    now = now or timezone.now()
    late = late_jobs(now)
    changes, alerts_due = [], []
    marked = set(JobHealth.objects.filter(state=JobHealth.LATE).values_list("job_id", flat=True))
    for job_id in marked - late.keys():
        if JobHealth.objects.filter(job_id=job_id, state=JobHealth.LATE).update(
            state=JobHealth.OK, changed_at=now, reason="runs on time again"
        ):
            alerts_due.append((job_id, JobHealth.LATE, JobHealth.OK, "runs on time again"))
            changes.append(f"{job_id}: late -> ok")
    known = dict(JobHealth.objects.filter(job_id__in=list(late)).values_list("job_id", "state"))
    for job_id, reason in late.items():
        state = known.get(job_id)
        if state in (JobHealth.LATE, JobHealth.FAILING):
            continue
        if state is None:
            try:
                with transaction.atomic():
                    JobHealth.objects.create(
                        job_id=job_id, state=JobHealth.LATE, changed_at=now, reason=reason
                    )
            except IntegrityError:
                continue
        elif not JobHealth.objects.filter(job_id=job_id, state=JobHealth.OK).update(
            state=JobHealth.LATE, changed_at=now, reason=reason
        ):
            continue
        alerts_due.append((job_id, JobHealth.OK, JobHealth.LATE, reason))
        changes.append(f"{job_id}: ok -> late")
    alerts.states_changed(alerts_due)
    return changes
