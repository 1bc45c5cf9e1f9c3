"""The scheduler's models, one module per concern; everything is importable from here,
as migrations and the other apps name it (`scheduler.models.CronFieldValidator`)."""

from .health import HealthReport, JobCounter, JobHealth
from .runs import SUMMARY_LENGTH, JobRun, ProbeRun, RunRequest, one_line
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
    "one_line",
    "queue_names",
    "stale_after",
    "validate_queue",
    "validate_task_name",
    "validate_timezone",
]
