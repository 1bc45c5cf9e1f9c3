"""Everything the scheduler knows by name: the tasks it can run, the default schedules of
the built-in jobs, the engines, the other apps' health checks and retention, and the
strategies' jobs.

A schedule picks its task by name from `TASKS`, never by a dotted path a user typed, so the
admin cannot be used to run arbitrary code. The scheduler knows the other apps only by the
dotted names here and the strategy model setting: it imports no other app.

To add a job: write the function in its app's `jobs.py`, name it here, and, if it should
run by default, add its schedule to `BUILTIN_SCHEDULES` (created at the next `migrate`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string

TASKS: dict[str, str] = {
    "collect_crypto_data": "market_data.jobs.collect_crypto_data",
    "update_exchange_symbols": "market_data.jobs.update_exchange_symbols",
    "cleanup_old_data": "scheduler.jobs.cleanup_old_data",
    "health_check": "scheduler.jobs.health_check",
    "run_strategy": "strategies.jobs.run_strategy",
    "probe": "scheduler.jobs.probe",
}

# `SCHEDULER_BACKEND` -> the engine's class (like Django's mail backends).
BACKENDS: dict[str, str] = {
    "apscheduler": "scheduler.backends.apscheduler.APSchedulerBackend",
    "celery": "scheduler.backends.celery.CeleryBackend",
}

# What other apps add to the built-in jobs, by dotted name. `health_check` calls each
# check (no arguments; it returns `{"name", "status", "message"}`), and `/healthz` shows
# each by its name. `cleanup_old_data` deletes, in batches, what each retention function
# returns: `[(what, queryset)]`, e.g. `("candles older than 365 days", <QuerySet>)`.
HEALTH_CHECKS: dict[str, str] = {
    "data freshness": "market_data.health.freshness_check",
}
RETENTION: tuple[str, ...] = ("market_data.retention.expired_data",)

# Arguments the execution path passes itself when the task's signature asks for them.
CONTEXT_ARGUMENTS = ("job_id", "slot", "attempt")

HOUR = 3600


@dataclass(frozen=True)
class BuiltinSchedule:
    """A built-in job's default schedule; `migrate` creates the row when it is missing."""

    job_id: str
    task: str
    description: str
    interval_seconds: int | None = None
    cron_minute: str = "*"
    cron_hour: str = "*"
    misfire_grace_seconds: int = 60
    max_attempts: int = 1
    queue: str = "default"
    timeout_seconds: int = 600


BUILTIN_SCHEDULES = (
    BuiltinSchedule(
        job_id="collect_crypto_data",
        task="collect_crypto_data",
        description="Fetch candles for tracked symbols",
        interval_seconds=600,
        max_attempts=3,
        queue="market_data",
    ),
    BuiltinSchedule(
        job_id="cleanup_old_data",
        task="cleanup_old_data",
        description="Delete data and run history past retention",
        cron_minute="0",
        cron_hour="3",
        misfire_grace_seconds=HOUR,
        timeout_seconds=1800,
    ),
    BuiltinSchedule(
        job_id="health_check",
        task="health_check",
        description="Check the database, the scheduler and data freshness",
        interval_seconds=HOUR,
    ),
    BuiltinSchedule(
        job_id="update_exchange_symbols",
        task="update_exchange_symbols",
        description="Refresh the exchanges' symbol lists",
        cron_minute="0",
        cron_hour="1",
        misfire_grace_seconds=HOUR,
        max_attempts=3,
        queue="market_data",
    ),
)

# Defaults for the `strategy_<id>` schedules (the strategies app starts and stops them).
STRATEGY_TASK = "run_strategy"
STRATEGY_QUEUE = "strategies"
STRATEGY_MAX_RUNNING = 1
STRATEGY_JOB_PREFIX = "strategy_"


def strategy_job_id(strategy_id: int) -> str:
    """The job id of a strategy's schedule: the one place it is built."""
    return f"{STRATEGY_JOB_PREFIX}{strategy_id}"


def strategy_id_of(job_id: str) -> int | None:
    """The strategy id in a `strategy_<id>` job id, or None for any other job."""
    rest = job_id.removeprefix(STRATEGY_JOB_PREFIX)
    return int(rest) if rest != job_id and rest.isdigit() and rest.isascii() else None


def strategy_model():
    """The model whose rows own `strategy_<id>` jobs (`SCHEDULER_STRATEGY_MODEL`): how
    the scheduler reaches a strategy without importing its app."""
    return apps.get_model(settings.SCHEDULER_STRATEGY_MODEL)


def task_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in TASKS]


def resolve(task: str) -> Callable:
    """The function registered as `task`; `ValueError` for a name not in the registry."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return import_string(TASKS[task])


def check_arguments(task: str, kwargs: object) -> None:
    """Raise `ValueError` unless `kwargs` is a JSON object the task accepts."""
    if not isinstance(kwargs, dict):
        raise ValueError('arguments must be a JSON object, e.g. {"strategy_id": 1}')
    reserved = set(kwargs) & set(CONTEXT_ARGUMENTS)
    if reserved:
        raise ValueError(f"{', '.join(sorted(reserved))} is passed by the scheduler itself")
    signature = inspect.signature(resolve(task))
    context = {n: None for n in CONTEXT_ARGUMENTS if n in signature.parameters}
    try:
        signature.bind(**kwargs, **context)
    except TypeError as exc:
        raise ValueError(f"task {task} does not take these arguments: {exc}") from None
