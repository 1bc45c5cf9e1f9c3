"""The scheduler's models, one module per concern; everything is importable from here,
as migrations and the other apps name it (`scheduler.models.CronFieldValidator`)."""

from .health import HealthReport, JobCounter, JobHealth
from .owners import MANAGE_SYSTEM_JOBS, manages_system_jobs, reaches_job
from .runs import LIST_LENGTH, SUMMARY_LENGTH, JobRun, ProbeRun, RunRequest, one_line
from .schedules import CHANGE_HOOKS, Schedule
from .state import CHANGES_CHANNEL, MISSED_BEATS, SchedulerState, stale_after
from .tokens import ApiToken
from .validators import (
    CronFieldValidator,
    queue_names,
    validate_queue,
    validate_task_name,
    validate_timezone,
)

__all__ = [
    "CHANGES_CHANNEL",
    "CHANGE_HOOKS",
    "LIST_LENGTH",
    "MANAGE_SYSTEM_JOBS",
    "MISSED_BEATS",
    "SUMMARY_LENGTH",
    "ApiToken",
    "CronFieldValidator",
    "HealthReport",
    "JobCounter",
    "JobHealth",
    "JobRun",
    "ProbeRun",
    "RunRequest",
    "Schedule",
    "SchedulerState",
    "manages_system_jobs",
    "one_line",
    "reaches_job",
    "queue_names",
    "stale_after",
    "validate_queue",
    "validate_task_name",
    "validate_timezone",
]
