"""Run now, pause and resume: what the status pages, the API and admin actions call.

Each writes the change as rows (never touching an engine: only the scheduler process
does), notifies the scheduler, and records who did it in admin's history. A strategy's job
is paused and resumed through its strategy (stop and start), so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import registry
from ..audit import log_action
from ..models import RunRequest, Schedule, SchedulerState, manages_system_jobs, reaches_job
from ..slots import whole_second


class Conflict(Exception):
    """The job is in a state that does not allow the action (a 409 for the API)."""


@dataclass(frozen=True)
class Outcome:
    changed: bool
    message: str


def strategy_of(schedule: Schedule):
    """The strategy behind a `strategy_<id>` job, or None for other jobs."""
    pk = registry.strategy_id_of(schedule.job_id)
    return None if pk is None else registry.strategy_model().objects.filter(pk=pk).first()


def can_control(user, schedule: Schedule) -> bool:
    """Staff who may change the job: a strategy's job needs its strategy (ownership, the
    one rule of `visible_to`) and the strategies' change permission; a system job needs
    "manage system jobs"."""
    if not user.is_staff or not reaches_job(user, schedule.job_id):
        return False
    if registry.strategy_id_of(schedule.job_id) is not None:
        model = registry.strategy_model()
        return user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}")
    return manages_system_jobs(user)


def pause(schedule: Schedule, user, via: str) -> Outcome:
    """Stop firing a job; its history stays. A strategy's job: the strategy stops."""
    if not schedule.enabled:
        raise Conflict(f"job {schedule.job_id} is already paused")
    strategy = strategy_of(schedule)
    if strategy is not None:
        strategy.stop(by=user, via=via)
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
        strategy.start(by=user, via=via)
    else:
        schedule.enabled = True
        schedule.save(update_fields=["enabled"])
        log_action(user, schedule, f"Resumed ({via})")
    return Outcome(True, f"Job {schedule.job_id} resumed.")


def run_now(schedule: Schedule, user, via: str) -> Outcome:
    """Ask the scheduler to run a manual slot — this second — of an enabled job.

    The request is a row and a notification, like a change; the scheduler hands the slot
    to its engine (`engine.run_requests`), which runs it through `run_job` (claim, overlap
    limit, history) on whichever backend. A paused job cannot run: resume it first.
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
