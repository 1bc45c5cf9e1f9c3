"""The scheduler's half of "Run now": the web writes a `RunRequest` row and notifies; the
process holding the scheduler lock takes each request once and hands its slot to the
engine, which runs it through `run_job` like any scheduled slot."""

from __future__ import annotations

import logging

from django.utils import timezone

from ..models import RunRequest, SchedulerState

logger = logging.getLogger("scheduler")

# Requests handed to the engine per poll; more wait for the next one.
HAND_OVER_BATCH = 100


def take() -> list[tuple[str, object]]:
    """The pending run requests as (job id, slot), each taken once (a conditional
    update): the scheduler's poll hands them to its engine."""
    pending = list(
        RunRequest.objects.filter(handed_at__isnull=True)
        .order_by("requested_at")
        .values_list("pk", "job_id", "slot")[:HAND_OVER_BATCH]
    )
    taken = []
    now = timezone.now()
    for pk, job_id, slot in pending:
        if RunRequest.objects.filter(pk=pk, handed_at__isnull=True).update(handed_at=now):
            logger.info("Run now: %s slot %s handed to the engine", job_id, slot.isoformat())
            taken.append((job_id, slot))
    if len(pending) == HAND_OVER_BATCH:
        SchedulerState.bump()  # more are waiting: look again at the next turn
    return taken


def put_back(slots: list[tuple[str, object]]) -> None:
    """Return taken requests the engine refused to the pending ones."""
    for job_id, slot in slots:
        RunRequest.objects.filter(job_id=job_id, slot=slot, handed_at__isnull=False).update(
            handed_at=None
        )
        logger.warning("Run now: %s slot %s put back for the next look", job_id, slot)
