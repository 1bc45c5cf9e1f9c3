"""`Schedule` rows projected into django-celery-beat's `PeriodicTask` table.

Under the Celery backend, every write of a schedule also writes its `PeriodicTask` row, in
the same transaction (`Schedule.save`, `delete` and the bulk `update`/`delete` call the
backend's `schedules_changed`, which calls `project`), so tools that read django-celery-
beat's tables — its admin, Flower — see the hub's jobs. The rows are a read-only mirror:
beat sends from the `Schedule` rows, and its admin marks them as managed by the hub.

Two writers, disjoint columns: the web side writes only the schedule columns
(`SCHEDULE_COLUMNS`), beat only the bookkeeping ones (`last_run_at`, `total_run_count`),
each with `bulk_update(fields=...)`, so neither overwrites the other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from ...models import Schedule
from .tasks import RUN_TASK

MANAGED_NOTE = "Managed by Altar Trader Hub: edit it under Scheduler › Schedules."
SCHEDULE_COLUMNS = [
    "task",
    "kwargs",
    "queue",
    "interval",
    "crontab",
    "start_time",
    "enabled",
    "description",
]
BATCH = 500


def is_managed(task: PeriodicTask) -> bool:
    return task.task == RUN_TASK


def project(job_ids: Iterable[str]) -> None:
    """Make the `PeriodicTask` rows of `job_ids` match their schedules (a job whose
    schedule is gone loses its row). Call inside the transaction that changed them."""
    job_ids = list(job_ids)
    if not job_ids:
        return
    with transaction.atomic():
        for start in range(0, len(job_ids), BATCH):
            _project_batch(job_ids[start : start + BATCH])


def sync_all() -> None:
    """Project every schedule, and drop the hub's rows whose schedule is gone (rows
    written while the APScheduler backend ran were never projected)."""
    with transaction.atomic():
        job_ids = list(Schedule.objects.values_list("job_id", flat=True))
        PeriodicTask.objects.filter(task=RUN_TASK).exclude(name__in=job_ids).delete()
        for start in range(0, len(job_ids), BATCH):
            _project_batch(job_ids[start : start + BATCH])


def _project_batch(job_ids: list[str]) -> None:
    schedules = {s.job_id: s for s in Schedule.objects.filter(job_id__in=job_ids)}
    PeriodicTask.objects.filter(task=RUN_TASK, name__in=set(job_ids) - schedules.keys()).delete()
    existing = {t.name: t for t in PeriodicTask.objects.filter(name__in=schedules)}
    intervals: dict[int, IntervalSchedule] = {}
    crontabs: dict[tuple, CrontabSchedule] = {}
    to_create, to_update = [], []
    for job_id, schedule in schedules.items():
        task = existing.get(job_id) or PeriodicTask(name=job_id)
        before = _schedule_values(task)
        task.task = RUN_TASK
        task.kwargs = json.dumps({"job_id": job_id})
        task.queue = schedule.queue
        task.enabled = schedule.enabled
        task.description = f"{schedule.description}\n{MANAGED_NOTE}".strip()
        if schedule.kind == Schedule.INTERVAL:
            every = schedule.interval_seconds
            if every not in intervals:
                intervals[every] = _first_or_create(
                    IntervalSchedule, every=every, period=IntervalSchedule.SECONDS
                )
            task.interval, task.crontab, task.start_time = intervals[every], None, schedule.anchor
        else:
            key = (
                schedule.cron_minute,
                schedule.cron_hour,
                schedule.cron_day_of_month,
                schedule.cron_month,
                schedule.cron_day_of_week,
                schedule.timezone or settings.SCHEDULER_TIMEZONE,
            )
            if key not in crontabs:
                crontabs[key] = _first_or_create(
                    CrontabSchedule, **dict(zip(CRONTAB_FIELDS, key, strict=True))
                )
            task.interval, task.crontab, task.start_time = None, crontabs[key], None
        if task.pk is None:
            to_create.append(task)
        elif _schedule_values(task) != before:
            # Rows already in step are not written: a beat starting with ten thousand
            # schedules only reads the table.
            to_update.append(task)
    PeriodicTask.objects.bulk_create(to_create, batch_size=BATCH)
    PeriodicTask.objects.bulk_update(to_update, SCHEDULE_COLUMNS, batch_size=BATCH)


CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week", "timezone")


def _first_or_create(model, **fields):
    """The oldest row with `fields`, else a new one. Never `get_or_create`: django-celery-
    beat's schedule tables have no unique key, so two equal rows may exist."""
    return model.objects.filter(**fields).order_by("pk").first() or model.objects.create(**fields)


def _schedule_values(task: PeriodicTask) -> tuple:
    return tuple(
        getattr(task, PeriodicTask._meta.get_field(column).attname) for column in SCHEDULE_COLUMNS
    )


def record_sends(sent: dict[str, int], last: dict[str, datetime]) -> None:
    """Beat's bookkeeping: add the send counts and stamp the last slot sent."""
    tasks = list(PeriodicTask.objects.filter(task=RUN_TASK, name__in=sent))
    for task in tasks:
        task.total_run_count += sent[task.name]
        task.last_run_at = last[task.name]
    PeriodicTask.objects.bulk_update(tasks, ["total_run_count", "last_run_at"], batch_size=BATCH)


def last_sent() -> dict[str, datetime]:
    """The last slot beat sent for each job (its bookkeeping), so a restarted beat does not
    count slots still waiting in a queue as missed."""
    rows = PeriodicTask.objects.filter(task=RUN_TASK, last_run_at__isnull=False)
    return dict(rows.values_list("name", "last_run_at"))
