"""Slot continuity across scheduler stops: where each job resumes, and what it missed.

When a scheduler starts, each job's gap is worked out from `JobRun` (the last slot recorded)
and the schedule's own grid — never from an engine's stored next run time, which may be
stale after a crash or a backend switch. The latest slot of the gap that is still inside the
misfire grace runs once (coalesced); every other slot of the gap is covered by one `missed`
record. Nothing runs in a burst, nothing is dropped silently.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ..models import JobRun, Schedule
from ..slots import count_slots
from .claims import record_missed

logger = logging.getLogger("scheduler")


def resume_point(
    schedule: Schedule, now: datetime, last_sent: datetime | None = None
) -> datetime | None:
    """`resume_after` the later of the job's last recorded slot and `last_sent` (the last
    slot already sent to a queue, whose message may still be waiting for a worker)."""
    return resume_after(schedule, now, _later(JobRun.objects.last_slot(schedule.job_id), last_sent))


def resume_after(schedule: Schedule, now: datetime, last: datetime | None) -> datetime | None:
    """The slot the engine should fire next after a stop, recording the gap as missed.

    1. The gap starts after `last`, the last slot accounted for — or, for a job never run
       since it was enabled, at its first slot after being enabled.
    2. No due slot in the gap: resume at its first slot.
    3. The latest due slot is inside the grace: resume there (it runs once, coalesced);
       the slots before it are one missed record.
    4. Otherwise every due slot is one missed record; resume at the next future slot.
    """
    timing = schedule.timing
    since = (schedule.enabled_at or schedule.created_at or now).replace(microsecond=0)
    first = (
        timing.next_slot(last)
        if last and last >= since
        else timing.next_slot(since, inclusive=True)
    )
    latest = timing.slot_at_or_before(now)
    if first is None or latest is None or first > latest:
        return first
    grace = timedelta(seconds=schedule.misfire_grace_seconds)
    if now - latest <= grace:
        resume, missed_until = latest, timing.slot_at_or_before(latest - timedelta(microseconds=1))
    else:
        resume, missed_until = timing.next_slot(now), latest
    if missed_until is not None and missed_until >= first:
        count = count_slots(timing, first, missed_until)
        reason = f"missed while the scheduler was stopped: {count} slot(s)"
        if record_missed(schedule.job_id, first, missed_until, count, reason):
            logger.warning(
                "Job %s missed %d slot(s) from %s to %s while the scheduler was stopped",
                schedule.job_id,
                count,
                first.isoformat(),
                missed_until.isoformat(),
            )
    return resume


def resume_points(
    now: datetime, last_sent: dict[str, datetime] | None = None
) -> dict[str, datetime | None]:
    """`resume_point` for every enabled schedule, with the last recorded slots read in one
    query."""
    last_sent = last_sent or {}
    schedules = JobRun.objects.with_last_recorded_slot(Schedule.objects.filter(enabled=True))
    return {
        schedule.job_id: resume_after(
            schedule, now, _later(schedule.last_recorded_slot, last_sent.get(schedule.job_id))
        )
        for schedule in schedules
    }


def _later(*slots: datetime | None) -> datetime | None:
    return max((slot for slot in slots if slot), default=None)


def record_dropped(job_id: str, timing, slots: list[datetime], reason: str) -> None:
    """One missed range for slots an engine dropped (consecutive, oldest first), joined to
    a range that ends just before them. Never raises: the engine's loop goes on."""
    before = timing.slot_at_or_before(slots[0] - timedelta(microseconds=1))
    try:
        record_missed(job_id, slots[0], slots[-1], len(slots), reason, after=before)
    except Exception:
        logger.exception("Could not record missed slots of %s", job_id)
