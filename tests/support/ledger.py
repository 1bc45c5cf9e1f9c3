"""The probe ledger's checks: `ProbeRun` has no unique key, so a slot executed twice leaves
two rows there, whereas `JobRun`'s unique key would hide it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from scheduler.models import JobRun, ProbeRun, Schedule

from .waits import wait_until


def duplicates(job_ids: list[str] | None = None, using: str = "default") -> list[str]:
    """Slots executed more than once: a slot with more than one finished execution, or two
    executions of the same attempt. Empty when every slot ran at most once. `using` names
    the database alias to read (a hub on a private cluster has its own)."""
    rows = ProbeRun.objects.using(using).all()
    if job_ids is not None:
        rows = rows.filter(job_id__in=job_ids)
    finished = Counter()
    attempts = Counter()
    for job_id, slot, attempt, finished_at in rows.values_list(
        "job_id", "scheduled_at", "attempt", "finished_at"
    ):
        attempts[(job_id, slot, attempt)] += 1
        if finished_at is not None:
            finished[(job_id, slot)] += 1
    found = [f"{j} {s.isoformat()}: finished {n} times" for (j, s), n in finished.items() if n > 1]
    found += [
        f"{j} {s.isoformat()}: attempt {a} executed {n} times"
        for (j, s, a), n in attempts.items()
        if n > 1
    ]
    return sorted(found)


def lost(job_id: str, start: datetime, end: datetime, using: str = "default") -> list[datetime]:
    """Slots of `job_id` due in [start, end] that neither executed (a probe row) nor were
    recorded as not run by policy: covered by a `missed` record, or by a `skipped` one
    (the overlap limit) made while an execution of the job was really going on, as the
    ledger shows. A skip with no execution in flight is a claim stuck `running`: lost.
    Empty when nothing was silently dropped."""
    timing = Schedule.objects.using(using).get(job_id=job_id).timing
    executed = set(
        ProbeRun.objects.using(using)
        .filter(job_id=job_id, scheduled_at__range=(start, end))
        .values_list("scheduled_at", flat=True)
    )
    missed = list(
        JobRun.objects.using(using)
        .filter(job_id=job_id, status=JobRun.MISSED)
        .values_list("scheduled_at", "missed_until")
    )
    # An execution is going on, for the hub, until its run is recorded: the probe's row is
    # finished a moment before, and a skip decided in between is still by policy.
    recorded = dict(
        JobRun.objects.using(using).filter(job_id=job_id).values_list("scheduled_at", "finished_at")
    )
    executions = [
        (began, ended if ended is None else max(ended, recorded.get(slot) or ended))
        for slot, began, ended in ProbeRun.objects.using(using)
        .filter(job_id=job_id)
        .values_list("scheduled_at", "started_at", "finished_at")
    ]
    skipped = {
        slot
        for slot, at in JobRun.objects.using(using)
        .filter(job_id=job_id, status=JobRun.SKIPPED, scheduled_at__range=(start, end))
        .values_list("scheduled_at", "started_at")  # when the skip was decided
        if at is not None
        and any(began <= at and (ended is None or ended >= at) for began, ended in executions)
    }
    gaps = []
    slot = timing.next_slot(start, inclusive=True)
    while slot is not None and slot <= end:
        covered = slot in skipped or any(
            first <= slot <= (until or first) for first, until in missed
        )
        if slot not in executed and not covered:
            gaps.append(slot)
        slot = timing.next_slot(slot)
    return gaps


def tally(job_id: str, start: datetime, end: datetime, using: str = "default") -> dict[str, int]:
    """The fault report's figures for `job_id` over [start, end]: slots due, due slots that
    executed, slots recorded missed or skipped (by policy) without executing, and slots
    lost. An execution off the grid (a Run now) is not a due slot and is not counted."""
    timing = Schedule.objects.using(using).get(job_id=job_id).timing
    executed = set(
        ProbeRun.objects.using(using)
        .filter(job_id=job_id, scheduled_at__range=(start, end))
        .values_list("scheduled_at", flat=True)
    )
    due = []
    slot = timing.next_slot(start, inclusive=True)
    while slot is not None and slot <= end:
        due.append(slot)
        slot = timing.next_slot(slot)
    ran = len(executed.intersection(due))
    gaps = len(lost(job_id, start, end, using))
    return {"expected": len(due), "ran": ran, "missed": len(due) - ran - gaps, "lost": gaps}


def probe_rows(job_ids: list[str]):
    """The probe executions of `job_ids`: one `ProbeRun` row per execution."""
    return ProbeRun.objects.filter(job_id__in=job_ids)


def probe_slots(job_id: str) -> list[datetime]:
    """The slots `job_id` executed, in order: one entry per execution, so a slot executed
    twice shows twice."""
    return list(
        probe_rows([job_id]).order_by("scheduled_at").values_list("scheduled_at", flat=True)
    )


def wait_for_run(job_id: str, slot: datetime, timeout: float = 20, finished: bool = False):
    """Wait (bounded) until `slot` of `job_id` has started executing, or with `finished`
    has finished; return its `ProbeRun` row."""
    rows = probe_rows([job_id]).filter(scheduled_at=slot)
    if finished:
        rows = rows.filter(finished_at__isnull=False)
    return wait_until(
        lambda: rows.first(),
        timeout,
        f"{job_id} slot {slot:%H:%M:%S} to {'run' if finished else 'start'}",
    )
