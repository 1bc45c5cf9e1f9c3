"""Who may reach which jobs: the one ownership rule that every admin, page and endpoint
scopes by (each model's `objects.visible_to(user)` applies it).

- A superuser reaches everything.
- Anyone else reaches the jobs of the strategies they own (`visible_to` of the strategy
  model, the strategies' own rule), with their runs, run requests, health and counters.
- System jobs (every job that is not a strategy's: the built-in and hand-made ones) are
  reached, runs and all, by holders of "manage system jobs" only. Every logged-in user may
  still read their state on `/jobs/` (`Schedule.objects.listed_for`), never their runs.
"""

from __future__ import annotations

from django.db import models
from django.db.models import CharField, Q, Value
from django.db.models.functions import Cast, Concat

from .. import registry

MANAGE_SYSTEM_JOBS = "scheduler.manage_system_jobs"


def manages_system_jobs(user) -> bool:
    """A superuser, or a holder of the explicit "manage system jobs" permission."""
    return user.is_active and (user.is_superuser or user.has_perm(MANAGE_SYSTEM_JOBS))


def own_job_ids(user):
    """The job ids of the strategies `user` owns, as a subquery (no list of ids in memory)."""
    strategies = registry.strategy_model().objects.visible_to(user)
    job_id = Concat(Value(registry.STRATEGY_JOB_PREFIX), Cast("pk", CharField()))
    return strategies.annotate(owned_job_id=job_id).values("owned_job_id")


def job_scope(user, *, system: bool | None = None) -> Q:
    """The condition on `job_id` for the jobs `user` reaches; `system` says whether system
    jobs count (by default: when the user manages them)."""
    if user.is_superuser:
        return Q()
    scope = Q(job_id__in=own_job_ids(user))
    if manages_system_jobs(user) if system is None else system:
        scope |= ~Q(job_id__startswith=registry.STRATEGY_JOB_PREFIX)
    return scope


def reaches_job(user, job_id: str) -> bool:
    """`job_scope` for one job id, without a query for a superuser or a system job."""
    if user.is_superuser:
        return True
    strategy_id = registry.strategy_id_of(job_id)
    if strategy_id is None:
        return not job_id.startswith(registry.STRATEGY_JOB_PREFIX) and manages_system_jobs(user)
    return registry.strategy_model().objects.visible_to(user).filter(pk=strategy_id).exists()


class JobScopedQuerySet(models.QuerySet):
    """Rows keyed by `job_id`: schedules, runs, run requests, health, counters."""

    def visible_to(self, user):
        return self.filter(job_scope(user))
