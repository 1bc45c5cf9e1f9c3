"""Run now, pause and resume: what the status pages, the API and admin actions call.

Each writes the change as rows (never touching an engine: only the scheduler process
does), notifies the scheduler, and records who did it in Django's admin history
(`LogEntry`). A strategy's job is paused and resumed through its strategy (stop and
start), by the model named in `SCHEDULER_STRATEGY_MODEL`, so the two never disagree and
the scheduler imports no other app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from .models import RunRequest, Schedule, SchedulerState, whole_second

logger = logging.getLogger("scheduler")

STRATEGY_PREFIX = "strategy_"
# Requests handed to the engine per poll; more wait for the next one.
HAND_OVER_BATCH = 100


class Conflict(Exception):
    """The job is in a state that does not allow the action (a 409 for the API)."""


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str


def strategy_model():
    return apps.get_model(settings.SCHEDULER_STRATEGY_MODEL)


def strategy_of(schedule: Schedule):
    """The strategy behind a `strategy_<id>` job, or None for other jobs."""
    if not schedule.job_id.startswith(STRATEGY_PREFIX):
        return None
    pk = schedule.job_id.removeprefix(STRATEGY_PREFIX)
    return strategy_model().objects.filter(pk=pk).first() if pk.isdigit() else None


def log_action(user, obj, message: str) -> None:
    """One `LogEntry` (admin → history) for `obj`, by `user`."""
    if user is None or not user.is_authenticated:
        return
    LogEntry.objects.log_actions(
        user.pk,
        [obj],
        CHANGE,
        change_message=message,
        single_object=True,
    )


def start_strategy(strategy, user, via: str, **changes) -> bool:
    """Start a strategy (optionally with a new interval or start policy) and log it."""
    for name, value in changes.items():
        setattr(strategy, name, value)
    if changes:
        strategy.full_clean()
        strategy.save()
    changed = strategy.start()
    if changed or changes:
        log_action(user, strategy, f"Started ({via})")
    return changed


def stop_strategy(strategy, user, via: str) -> bool:
    changed = strategy.stop()
    if changed:
        log_action(user, strategy, f"Stopped ({via})")
    return changed


def pause(schedule: Schedule, user, via: str) -> Outcome:
    """Stop firing a job; its history stays. A strategy's job: the strategy stops."""
    if not schedule.enabled:
        raise Conflict(f"job {schedule.job_id} is already paused")
    strategy = strategy_of(schedule)
    if strategy is not None:
        stop_strategy(strategy, user, via)
    else:
        schedule.enabled = False
        schedule.save(update_fields=["enabled"])
        log_action(user, schedule, f"Paused ({via})")
    return Outcome(True, f"Job {schedule.job_id} paused.")


def resume(schedule: Schedule, user, via: str) -> Outcome:
    """Fire a paused job again, from its next slot. A strategy's job: the strategy starts."""
    if schedule.enabled:
        raise Conflict(f"job {schedule.job_id} is not paused")
    strategy = strategy_of(schedule)
    if strategy is not None:
        start_strategy(strategy, user, via)
    else:
        schedule.enabled = True
        schedule.save(update_fields=["enabled"])
        log_action(user, schedule, f"Resumed ({via})")
    return Outcome(True, f"Job {schedule.job_id} resumed.")


def run_now(schedule: Schedule, user, via: str) -> Outcome:
    """Ask the scheduler to run a manual slot — this second — of an enabled job.

    The request is a row and a notification, like a change; the scheduler hands the slot
    to its engine, which runs it through `run_job` (claim, overlap limit, history) on
    whichever backend. A paused job cannot run: resume it first.
    """
    if not schedule.enabled:
        raise Conflict(f"job {schedule.job_id} is paused; resume it first")
    slot = whole_second(timezone.now())
    with transaction.atomic():
        RunRequest.objects.create(
            job_id=schedule.job_id,
            slot=slot,
            requested_by=user if user is not None and user.is_authenticated else None,
        )
        SchedulerState.bump()
    strategy = strategy_of(schedule)
    log_action(user, strategy or schedule, f"Run now requested ({via}), slot {slot.isoformat()}")
    return Outcome(True, f"Job {schedule.job_id} will run now (slot {slot:%H:%M:%S}).")


def take_run_requests() -> list[tuple[str, object]]:
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
