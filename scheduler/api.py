"""The guide's Python API, for any process (web, shell, scheduler).

`add_strategy_job` is the same as pressing Start in admin and `remove_strategy_job` the same
as Stop: they call the strategy's own `start` and `stop`, and the strategy keeps its
`Schedule` row in step, so admin, API and shell never disagree. `get_scheduler().get_jobs()`
reads the `Schedule` rows, not an engine's memory (only the scheduler process has one).
Errors are `ValueError`s with a readable message; nothing changes then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError

from . import registry
from .models import Schedule

VIA = "Python API"


def _get_strategy(strategy_id: int):
    model = registry.strategy_model()
    try:
        return model.objects.get(pk=strategy_id)
    except (model.DoesNotExist, ValueError, TypeError):
        raise ValueError(f"strategy {strategy_id!r} does not exist") from None


def _validation_message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


def _checked(change, *args, **kwargs):
    """`change(*args, **kwargs)`, its `ValidationError` as the guide's `ValueError`."""
    try:
        return change(*args, **kwargs)
    except ValidationError as exc:
        raise ValueError(_validation_message(exc)) from None


def add_strategy_job(
    strategy_id: int, interval_seconds: int | None = None, start_immediately: bool | None = None
):
    """Start strategy `strategy_id` (job `strategy_<id>`), optionally with a new interval.

    Raises `ValueError` for an unknown strategy or a bad interval; nothing changes then.
    """
    strategy = _get_strategy(strategy_id)
    changes = {"interval_seconds": interval_seconds, "start_immediately": start_immediately}
    changes = {name: value for name, value in changes.items() if value is not None}
    _checked(strategy.start, via=VIA, **changes)
    return get_scheduler().get_job(registry.strategy_job_id(strategy.pk))


def update_strategy_job(strategy_id: int, interval_seconds: int):
    """Change a strategy's interval; a running job moves to a grid anchored at the edit."""
    strategy = _get_strategy(strategy_id)
    strategy.interval_seconds = interval_seconds
    _checked(strategy.full_clean)
    strategy.save()
    return get_scheduler().get_job(registry.strategy_job_id(strategy.pk))


def remove_strategy_job(strategy_id: int) -> None:
    """Stop strategy `strategy_id`: its job stops firing; its history is kept."""
    _get_strategy(strategy_id).stop(via=VIA)


@dataclass(frozen=True)
class Job:
    """A scheduled job as the guide shows it: `.id`, `.next_run_time`, and the trigger."""

    id: str
    next_run_time: datetime | None
    trigger: str
    task: str
    enabled: bool


class Scheduler:
    """A read view of what is scheduled, the same from every process."""

    @property
    def backend(self) -> str:
        return settings.SCHEDULER_BACKEND

    def get_jobs(self) -> list[Job]:
        """Enabled jobs, soonest first."""
        jobs = [_job(s) for s in Schedule.objects.filter(enabled=True)]
        return sorted(jobs, key=lambda j: (j.next_run_time is None, j.next_run_time or 0, j.id))

    def get_job(self, job_id: str) -> Job | None:
        schedule = Schedule.objects.filter(job_id=job_id).first()
        return _job(schedule) if schedule else None


def _job(schedule: Schedule) -> Job:
    return Job(
        id=schedule.job_id,
        next_run_time=schedule.next_fire_time(),
        trigger=schedule.describe_trigger(),
        task=schedule.task,
        enabled=schedule.enabled,
    )


def get_scheduler() -> Scheduler:
    return Scheduler()
