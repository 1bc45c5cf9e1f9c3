"""Everything the scheduler knows by name: the tasks it can run, the default schedules of
the built-in jobs, the engines, the other apps' health checks and retention, and the
strategies' jobs.

A schedule picks its task by name from `TASKS`, never by a dotted path a user typed, so the
admin cannot be used to run arbitrary code; each task declares the arguments a schedule
may give it, with types and bounds, checked when a schedule is saved and again when an
engine registers it. The scheduler knows the other apps only by the
dotted names here and the strategy model setting: it imports no other app.

To add a job: write the function in its app's `jobs.py`, name it here, and, if it should
run by default, add its schedule to `BUILTIN_SCHEDULES` (created at the next `migrate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Argument:
    """One keyword argument a task takes: its JSON type, its bounds, whether required."""

    name: str
    kind: type  # int, float or bool (JSON's number and boolean)
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False

    def problem(self, value: object) -> str | None:
        """Why `value` is not acceptable, or None. `True` is not an integer here, nor is
        `1.0`: a JSON value of the wrong type is refused, never coerced."""
        numeric = (int,) if self.kind is int else (int, float)
        if self.kind is bool:
            ok = isinstance(value, bool)
        else:
            ok = isinstance(value, numeric) and not isinstance(value, bool)
        if ok and self.kind is float:
            ok = math.isfinite(value)
        if not ok:
            return f"{self.name} must be {self.describe()}"
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            return f"{self.name} must be {self.describe()}, not {value}"
        return None

    def describe(self) -> str:
        if self.kind is bool:
            return "true or false"
        noun = "an integer" if self.kind is int else "a number"
        return f"{noun} from {self.minimum:g} to {self.maximum:g}"


@dataclass(frozen=True)
class Task:
    """A task the hub can run: its function's dotted path, the arguments a schedule may
    give it, whether a person may schedule it by hand (a strategy's job is made by its
    strategy), whether its success refreshes the health report, and whether it is a
    diagnostic (offered only with SCHEDULER_DIAGNOSTIC_TASKS:
    `probe` can sleep for an hour or kill its own process)."""

    path: str
    arguments: tuple[Argument, ...] = ()
    by_hand: bool = True
    diagnostic: bool = False
    # A success brings new data: the health report is judged again at once, so it never
    # says "no candles" for an hour after a first collection.
    refreshes_health: bool = False


TASKS: dict[str, Task] = {
    "collect_crypto_data": Task("market_data.jobs.collect_crypto_data", refreshes_health=True),
    "update_exchange_symbols": Task("market_data.jobs.update_exchange_symbols"),
    "cleanup_old_data": Task(
        "scheduler.jobs.cleanup_old_data", (Argument("retention_days", int, 1, 3650),)
    ),
    "health_check": Task("scheduler.jobs.health_check"),
    "run_strategy": Task(
        "strategies.jobs.run_strategy",
        (Argument("strategy_id", int, 1, 2**31 - 1, required=True),),
        by_hand=False,
    ),
    "probe": Task(
        "scheduler.jobs.probe",
        (
            Argument("sleep", float, 0, 3600),
            Argument("fail", bool),
            # Attempts 1..N fail or die; N over the schedule's attempts means every one.
            Argument("fail_attempts", int, 0, 1000),
            Argument("kill_attempts", int, 0, 1000),
        ),
        diagnostic=True,
    ),
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

# Arguments the execution path passes itself when the task's signature asks for them
# (never declared, so never given by a schedule).
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
# The URL name of a strategy's own page (its chart), linked from its job's page.
STRATEGY_PAGE = "strategies:strategy-detail"


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


def available_tasks() -> dict[str, Task]:
    """The tasks this process offers: diagnostics only with SCHEDULER_DIAGNOSTIC_TASKS,
    read at each call (the test suite and the benchmarks switch it on)."""
    diagnostics = settings.SCHEDULER_DIAGNOSTIC_TASKS
    return {name: task for name, task in TASKS.items() if diagnostics or not task.diagnostic}


def task_choices() -> list[tuple[str, str]]:
    """The tasks a person may pick for a schedule made by hand."""
    return [(name, name) for name, task in available_tasks().items() if task.by_hand]


def declaration(task: str) -> Task:
    """The declaration of `task`; `ValueError` for a name this process does not offer."""
    offered = available_tasks()
    if task not in offered:
        raise ValueError(f"unknown task {task!r}; choose one of {', '.join(offered)}")
    return offered[task]


def resolve(task: str) -> Callable:
    """The function registered as `task`; `ValueError` for a name not offered."""
    return import_string(declaration(task).path)


def check_arguments(task: str, kwargs: object) -> None:
    """Raise `ValueError` naming the argument unless `kwargs` is a JSON object of the
    arguments `task` declares, each of its type and within its bounds."""
    if not isinstance(kwargs, dict):
        raise ValueError('arguments must be a JSON object, e.g. {"retention_days": 30}')
    declared = {argument.name: argument for argument in declaration(task).arguments}
    for name in kwargs:
        if name not in declared:
            takes = ", ".join(declared) or "no arguments"
            raise ValueError(f"{task} does not take {name!r} (it takes: {takes})")
    for argument in declared.values():
        if argument.name not in kwargs:
            if argument.required:
                raise ValueError(f"{argument.name} is required ({argument.describe()})")
            continue
        problem = argument.problem(kwargs[argument.name])
        if problem:
            raise ValueError(problem)
