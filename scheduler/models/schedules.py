"""What runs when: `Schedule`, the source of truth every engine is a projection of.

Web processes write rows and bump `SchedulerState.changes` in the same transaction; only
the process holding the scheduler lock writes an engine's own state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils import timezone

from .. import registry
from ..slots import MAX_INTERVAL, MIN_INTERVAL, Timing, next_whole_second, whole_second
from .owners import JobScopedQuerySet, job_scope
from .runs import JobRun
from .state import SchedulerState
from .validators import CronFieldValidator, validate_queue, validate_task_name, validate_timezone

logger = logging.getLogger(__name__)


def _changed(job_ids: list[str]) -> None:
    """Tell the scheduler, and the engine's own copy of the rows if it keeps one, that
    `job_ids` changed; in the caller's transaction, so neither sees one without the other.
    The copy is the backend's business (`SchedulerBackend.schedules_changed`, registered
    in `SchedulerConfig.ready()`): the models never import an engine."""
    SchedulerState.bump()
    for hook in CHANGE_HOOKS:
        hook(job_ids)


# Called with the job ids of every write of schedules (see `_changed`).
CHANGE_HOOKS: list[Callable[[list[str]], None]] = []


class ScheduleQuerySet(JobScopedQuerySet):
    def listed_for(self, user):
        """What `/jobs/` lists: the jobs `user` reaches, and the system jobs' state for
        every logged-in user (their runs stay with `visible_to`)."""
        return self.filter(job_scope(user, system=True))

    def update(self, **kwargs) -> int:
        """Bulk updates notify the scheduler too (admin bulk actions use them), stamp
        `updated_at` (the scheduler reloads rows changed since it last looked), and
        enabling stamps `enabled_at` on the rows that were disabled, as `Schedule.save`
        does. The backend's hook sees them like a `save`."""
        kwargs.setdefault("updated_at", timezone.now())
        with transaction.atomic():
            job_ids = list(self.values_list("job_id", flat=True))
            if kwargs.get("enabled") is True and "enabled_at" not in kwargs:
                models.QuerySet.update(self.filter(enabled=False), enabled_at=timezone.now())
            count = super().update(**kwargs)
            if count:
                _changed(job_ids)
        return count

    def delete(self):
        with transaction.atomic():
            job_ids = list(self.values_list("job_id", flat=True))
            result = super().delete()
            _changed(job_ids)
        return result


class ScheduleManager(models.Manager.from_queryset(ScheduleQuerySet)):
    def ensure_builtin(self) -> list[str]:
        """Create the built-in schedules that are missing; never touch existing rows, so an
        admin's edits survive every `migrate`. Returns the job ids created."""
        created = []
        for spec in registry.BUILTIN_SCHEDULES:
            if self.filter(job_id=spec.job_id).exists():
                continue
            schedule = Schedule(
                job_id=spec.job_id,
                task=spec.task,
                description=spec.description,
                kind=Schedule.INTERVAL if spec.interval_seconds else Schedule.CRON,
                interval_seconds=spec.interval_seconds,
                cron_minute=spec.cron_minute,
                cron_hour=spec.cron_hour,
                misfire_grace_seconds=spec.misfire_grace_seconds,
                max_attempts=spec.max_attempts,
                queue=spec.queue,
                timeout_seconds=spec.timeout_seconds,
            )
            schedule.full_clean()
            schedule.save()
            created.append(spec.job_id)
        return created

    def set_strategy_job(
        self,
        strategy_id: int,
        *,
        active: bool,
        interval_seconds: int,
        start_immediately: bool,
        label: str = "",
        paused_reason: str = "",
    ) -> Schedule | None:
        """Make job `strategy_<id>` match its strategy (the one place that does).

        1. Inactive: disable the row if there is one (the engine drops the job), keeping
           why it stopped by itself (`paused_reason`) for the status pages.
        2. Becoming active, or a new interval: re-anchor at now — the first slot is now when
           the strategy starts immediately, else one interval later.
        3. Already active with the same interval: leave the grid alone.
        """
        job_id = registry.strategy_job_id(strategy_id)
        with transaction.atomic():
            schedule = self.select_for_update().filter(job_id=job_id).first()
            if not active:
                if schedule and (schedule.enabled or schedule.paused_reason != paused_reason):
                    schedule.enabled = False
                    schedule.paused_reason = paused_reason
                    schedule.save()
                return schedule
            if schedule is None:
                schedule = Schedule(
                    job_id=job_id,
                    task=registry.STRATEGY_TASK,
                    kwargs={"strategy_id": strategy_id},
                    queue=registry.STRATEGY_QUEUE,
                    max_running=registry.STRATEGY_MAX_RUNNING,
                    max_attempts=1,
                    kind=Schedule.INTERVAL,
                )
            own = {"task": registry.STRATEGY_TASK, "kwargs": {"strategy_id": strategy_id}}
            if any(getattr(schedule, name) != value for name, value in own.items()):
                # A row written behind the forms' back (they refuse it): the strategy's job
                # runs the strategy, whatever the row said.
                logger.warning(
                    "Job %s ran task %s with %s; reset to its strategy's own",
                    job_id,
                    schedule.task,
                    schedule.kwargs,
                )
                schedule.task, schedule.kwargs = own["task"], own["kwargs"]
            restart = not schedule.enabled or schedule.pk is None
            if restart or schedule.interval_seconds != interval_seconds:
                now = next_whole_second(timezone.now())
                schedule.interval_seconds = interval_seconds
                schedule.anchor = (
                    now
                    if (restart and start_immediately)
                    else now + timedelta(seconds=interval_seconds)
                )
            schedule.enabled = True
            schedule.paused_reason = ""
            schedule.description = label or schedule.description
            schedule.full_clean()
            schedule.save()
            return schedule


class Schedule(models.Model):
    """One job: which registered task runs, with which arguments, on which trigger."""

    INTERVAL = "interval"
    CRON = "cron"
    KIND_CHOICES = [(INTERVAL, "Every N seconds"), (CRON, "Cron (minute hour day month weekday)")]

    job_id = models.CharField(
        "job id", max_length=200, unique=True, help_text="Stable name, e.g. strategy_12."
    )
    description = models.CharField(max_length=200, blank=True)
    task = models.CharField(
        max_length=100,
        validators=[validate_task_name],
        help_text="A task from the hub's registry.",
    )
    kwargs = models.JSONField(
        "arguments", default=dict, blank=True, help_text='JSON object, e.g. {"strategy_id": 1}.'
    )
    enabled = models.BooleanField(default=True)
    paused_reason = models.CharField(
        max_length=500,
        blank=True,
        editable=False,
        help_text="Why the job stopped by itself (a strategy's auto-stop); shown on the "
        "status pages and in the API while it is paused.",
    )
    enabled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the schedule was last enabled: slots before it were not due, so a "
        "scheduler restart never counts them as missed.",
    )
    kind = models.CharField("trigger", max_length=10, choices=KIND_CHOICES, default=INTERVAL)
    interval_seconds = models.PositiveIntegerField(
        "interval (seconds)",
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text="From 1 second to 31 days.",
    )
    anchor = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The first slot: runs are due at anchor + k × interval. Set when the "
        "schedule starts or its interval changes; a restart never moves it.",
    )
    cron_minute = models.CharField(
        "minute", max_length=100, default="*", validators=[CronFieldValidator("minute")]
    )
    cron_hour = models.CharField(
        "hour", max_length=100, default="*", validators=[CronFieldValidator("hour")]
    )
    cron_day_of_month = models.CharField(
        "day of month", max_length=100, default="*", validators=[CronFieldValidator("day_of_month")]
    )
    cron_month = models.CharField(
        "month", max_length=100, default="*", validators=[CronFieldValidator("month")]
    )
    cron_day_of_week = models.CharField(
        "day of week",
        max_length=100,
        default="*",
        validators=[CronFieldValidator("day_of_week")],
        help_text="0 or 7 = Sunday, or sun-sat.",
    )
    timezone = models.CharField(
        "time zone",
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="For cron schedules; empty means SCHEDULER_TIMEZONE.",
    )
    timeout_seconds = models.PositiveIntegerField(
        "timeout (seconds)",
        default=600,
        validators=[MinValueValidator(1)],
        help_text="A run longer than this is recorded as timed out.",
    )
    misfire_grace_seconds = models.PositiveIntegerField(
        "misfire grace (seconds)",
        default=60,
        validators=[MinValueValidator(1)],
        help_text="A slot started later than this after its time is recorded as missed.",
    )
    max_attempts = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="A failed run, or one whose process died, is tried again up to this "
        "many attempts in all (1 = no retry).",
    )
    retry_backoff_seconds = models.PositiveIntegerField(
        "retry backoff (seconds)",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text="The wait before the first retry; each further retry waits twice as "
        "long (at most 10 minutes), with random jitter.",
    )
    queue = models.CharField(
        max_length=64,
        default="default",
        validators=[validate_queue],
        help_text="The Celery queue its runs are sent to (celery backend).",
    )
    max_running = models.PositiveSmallIntegerField(
        "at most running at once",
        default=3,
        validators=[MinValueValidator(1)],
        help_text="A slot due while this many runs are going is skipped and recorded.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScheduleManager()

    STRATEGY_PREFIX_TAKEN = (
        f"Job ids starting with {registry.STRATEGY_JOB_PREFIX!r} belong to strategies; "
        "choose another."
    )

    class Meta:
        ordering = ["job_id"]
        permissions = [
            ("manage_system_jobs", "Can read and change system jobs and their runs"),
        ]
        indexes = [
            # `/jobs/?state=paused|ok`: enabled or not, in the page's order.
            models.Index(fields=["enabled", "job_id"], name="schedule_enabled"),
            # `/jobs/?q=...`: a description prefix (pattern ops, so LIKE 'x%' uses it on
            # PostgreSQL; job ids have their own from the unique constraint).
            models.Index(
                fields=["description"],
                name="schedule_description",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.job_id

    def save(self, *args, **kwargs) -> None:
        """Keep the grid and the enable time right, and notify the scheduler in the same
        transaction as the row, so it never sees one without the other.

        1. A new interval (with the anchor left as it was) starts a new grid at the edit:
           the next run is one new interval later. A caller that sets the anchor keeps it.
        2. Enabling a schedule (or creating one enabled) stamps `enabled_at`.
        """
        old = None
        if self.pk:
            old = (
                Schedule.objects.filter(pk=self.pk)
                .values("interval_seconds", "kind", "anchor", "enabled")
                .first()
            )
        # One "now" for both stamps, so a fresh anchor is never before `enabled_at`.
        now = timezone.now()
        changed = []
        if self.kind == self.INTERVAL:
            new_grid = old is not None and (old["interval_seconds"], old["kind"]) != (
                self.interval_seconds,
                self.kind,
            )
            if self.anchor is None or (new_grid and self.anchor == old["anchor"]):
                start = next_whole_second(now)
                self.anchor = (
                    start + timedelta(seconds=self.interval_seconds) if new_grid else start
                )
                changed.append("anchor")
            self.anchor = whole_second(self.anchor)
        if self.enabled and (old is None or not old["enabled"] or self.enabled_at is None):
            self.enabled_at = now
            changed.append("enabled_at")
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], *changed, "updated_at"}
        with transaction.atomic():
            super().save(*args, **kwargs)
            _changed([self.job_id])

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            result = super().delete(*args, **kwargs)
            _changed([self.job_id])
        return result

    def clean(self) -> None:
        """The arguments are the task's declared ones; a `strategy_<id>` job runs that
        strategy and nothing else, and a task made for strategies (`by_hand=False`) runs
        under such a job id only. So no row, however written, runs one user's strategy
        under another's name."""
        errors = {}
        if self.kind == self.INTERVAL and not self.interval_seconds:
            errors["interval_seconds"] = "An interval schedule needs an interval."
        try:
            task = registry.declaration(self.task)
        except ValueError:
            task = None  # the task field's own validator says so
        if task is not None:
            try:
                registry.check_arguments(self.task, self.kwargs)
            except ValueError as exc:
                errors["kwargs"] = str(exc).capitalize() + "."
        strategy_id = registry.strategy_id_of(self.job_id)
        if strategy_id is not None:
            if self.task != registry.STRATEGY_TASK or self.kwargs != {"strategy_id": strategy_id}:
                errors["job_id"] = (
                    f"A {registry.STRATEGY_JOB_PREFIX}<id> job runs its own strategy only: "
                    f'task {registry.STRATEGY_TASK} with {{"strategy_id": {strategy_id}}}.'
                )
        elif self.job_id.startswith(registry.STRATEGY_JOB_PREFIX):
            errors["job_id"] = self.STRATEGY_PREFIX_TAKEN
        elif task is not None and not task.by_hand:
            errors["task"] = f"{self.task} is scheduled by its strategy: start the strategy."
        if errors:
            raise ValidationError(errors)

    # The fields a schedule's slots depend on (see `timing_of`).
    TIMING_FIELDS = (
        "kind",
        "interval_seconds",
        "anchor",
        "cron_minute",
        "cron_hour",
        "cron_day_of_month",
        "cron_month",
        "cron_day_of_week",
        "timezone",
    )

    @property
    def timing(self) -> Timing:
        return self.timing_of({name: getattr(self, name) for name in self.TIMING_FIELDS})

    @classmethod
    def timing_of(cls, fields: dict) -> Timing:
        """The `Timing` of a schedule given its `TIMING_FIELDS` as a dict, so a caller
        comparing thousands of schedules can read `values()` instead of model instances."""
        if fields["kind"] == cls.INTERVAL:
            return Timing(
                kind=cls.INTERVAL,
                interval_seconds=fields["interval_seconds"],
                anchor=fields["anchor"],
            )
        return Timing(
            kind=cls.CRON,
            minute=fields["cron_minute"],
            hour=fields["cron_hour"],
            day_of_month=fields["cron_day_of_month"],
            month=fields["cron_month"],
            day_of_week=fields["cron_day_of_week"],
            timezone=fields["timezone"] or settings.SCHEDULER_TIMEZONE,
        )

    def describe_trigger(self) -> str:
        return self.timing.describe()

    describe_trigger.short_description = "trigger"

    def next_fire_time(self, now: datetime | None = None) -> datetime | None:
        """The next slot to run: the first after the last one recorded, but none older than
        the misfire grace (so a strategy started "immediately" shows its anchor, now).
        None when disabled. Both the engines and the status views use this."""
        if not self.enabled:
            return None
        floor = (now or timezone.now()) - timedelta(seconds=self.misfire_grace_seconds)
        return self.next_fire_time_after(JobRun.objects.last_slot(self.job_id, since=floor), now)

    def next_fire_time_after(self, last: datetime | None, now: datetime | None = None):
        """`next_fire_time` given the newest recorded slot `last` (no query), for pages
        that read it for a hundred schedules at once (`JobRun.objects.with_last_recorded_slot`)."""
        if not self.enabled:
            return None
        floor = (now or timezone.now()) - timedelta(seconds=self.misfire_grace_seconds)
        if last is not None and last >= floor:
            return self.timing.next_slot(last)
        return self.timing.next_slot(floor, inclusive=True)

    def upcoming(self, count: int, now: datetime | None = None) -> list[datetime]:
        """The next `count` fire times, so a daylight-saving shift shows before it happens."""
        slots = []
        slot = self.next_fire_time(now)
        while slot is not None and len(slots) < count:
            slots.append(slot)
            slot = self.timing.next_slot(slot)
        return slots
