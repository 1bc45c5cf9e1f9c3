"""What runs when (`Schedule`), what ran and how it went (`JobRun`), and the change counter.

`Schedule` rows are the source of truth; each backend is a projection of them that only the
scheduler process writes. Web processes write rows and bump `SchedulerState.changes`,
which the scheduler reads at least once a second.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from . import registry
from .slots import MAX_INTERVAL, MIN_INTERVAL, CronError, Timing, parse_cron_field, zone


def validate_task_name(value: str) -> None:
    if value not in registry.TASKS:
        raise ValidationError(
            f"Unknown task {value!r}; choose one of: {', '.join(registry.TASKS)}."
        )


def validate_timezone(value: str) -> None:
    try:
        zone(value)
    except ValueError as exc:
        raise ValidationError(str(exc).capitalize() + ".") from None


def queue_names() -> list[str]:
    return [queue.name for queue in settings.CELERY_TASK_QUEUES]


def validate_queue(value: str) -> None:
    """Only a declared queue: a message sent to any other would wait for a worker that
    never comes (a plain `celery -A altar worker` consumes the declared ones)."""
    if value not in queue_names():
        raise ValidationError(
            f"Unknown queue {value!r}; choose one of: {', '.join(queue_names())}."
        )


@deconstructible
class CronFieldValidator:
    """Refuses a cron field that does not parse or is out of range for its position."""

    def __init__(self, field: str):
        self.field = field

    def __call__(self, value: str) -> None:
        try:
            parse_cron_field(value, self.field)
        except CronError as exc:
            raise ValidationError(str(exc).capitalize() + ".") from None

    def __eq__(self, other) -> bool:
        return isinstance(other, CronFieldValidator) and other.field == self.field


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def next_whole_second(moment: datetime) -> datetime:
    """`moment` rounded up: a new anchor is never already in the past, so a job started
    "immediately" has its first slot still ahead when the scheduler picks it up."""
    floor = whole_second(moment)
    return floor if floor == moment else floor + timedelta(seconds=1)


CHANGES_CHANNEL = "altar_schedules"


class SchedulerState(models.Model):
    """One row: the change counter, and who runs the scheduler.

    Every writer of schedules bumps the counter in its own transaction (so the scheduler
    sees the new rows and the new count together) and, on PostgreSQL, sends a NOTIFY that
    the database delivers at commit, which wakes the scheduler at once. The holder of the
    scheduler lock writes its name, backend and start time here, and stamps
    `holder_seen_at` on every heartbeat, for admin and `manage.py schedules` to show.
    """

    changes = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)
    backend = models.CharField(max_length=20, blank=True)
    holder = models.CharField("lock holder", max_length=200, blank=True)
    holder_since = models.DateTimeField(null=True, blank=True)
    holder_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "scheduler state"

    def __str__(self) -> str:
        return f"{self.changes} changes"

    @classmethod
    def bump(cls) -> None:
        updated = cls.objects.filter(pk=1).update(
            changes=F("changes") + 1, changed_at=timezone.now()
        )
        if not updated:
            cls.objects.get_or_create(pk=1, defaults={"changes": 1})
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", [CHANGES_CHANNEL])

    @classmethod
    def record_holder(cls, holder: str, backend: str) -> None:
        now = timezone.now()
        fields = {"holder": holder, "backend": backend, "holder_since": now, "holder_seen_at": now}
        if not cls.objects.filter(pk=1).update(**fields):
            cls.objects.get_or_create(pk=1, defaults=fields)

    @classmethod
    def holder_seen(cls, holder: str) -> None:
        cls.objects.filter(pk=1, holder=holder).update(holder_seen_at=timezone.now())

    @classmethod
    def get(cls) -> SchedulerState:
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    def describe_backend(self) -> str:
        """The configured backend, and the last holder's when it differs (a switch)."""
        backend = settings.SCHEDULER_BACKEND
        if self.backend and self.backend != backend:
            backend += f" (the last scheduler to run used {self.backend})"
        return backend

    def describe_holder(self) -> str:
        """`host:pid since <time>, last seen Ns ago`, for admin and `manage.py schedules`."""
        if not self.holder:
            return "no scheduler has run yet"
        since = timezone.localtime(self.holder_since).strftime("%Y-%m-%d %H:%M:%S %Z")
        seen = ""
        if self.holder_seen_at:
            seen = f", last seen {(timezone.now() - self.holder_seen_at).total_seconds():.0f}s ago"
        return f"{self.holder} since {since}{seen}"

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("changes", flat=True).first() or 0


def _projecting() -> bool:
    return settings.SCHEDULER_BACKEND == "celery"


def _project(job_ids) -> None:
    """Under the Celery backend, mirror the rows into django-celery-beat's table, in the
    caller's transaction (see `scheduler.backends.beat_projection`)."""
    if _projecting():
        from .backends.beat_projection import project

        project(job_ids)


class ScheduleQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        """Bulk updates notify the scheduler too (admin bulk actions use them), stamp
        `updated_at` (the scheduler reloads rows changed since it last looked), and
        enabling stamps `enabled_at` on the rows that were disabled, as `Schedule.save`
        does. Under the Celery backend they are projected like a `save`."""
        kwargs.setdefault("updated_at", timezone.now())
        with transaction.atomic():
            job_ids = list(self.values_list("job_id", flat=True)) if _projecting() else []
            if kwargs.get("enabled") is True and "enabled_at" not in kwargs:
                models.QuerySet.update(self.filter(enabled=False), enabled_at=timezone.now())
            count = super().update(**kwargs)
            if count:
                SchedulerState.bump()
                _project(job_ids)
        return count

    def delete(self):
        with transaction.atomic():
            job_ids = list(self.values_list("job_id", flat=True)) if _projecting() else []
            result = super().delete()
            SchedulerState.bump()
            _project(job_ids)
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
    ) -> Schedule | None:
        """Make job `strategy_<id>` match its strategy (the one place that does).

        1. Inactive: disable the row if there is one (the engine drops the job).
        2. Becoming active, or a new interval: re-anchor at now — the first slot is now when
           the strategy starts immediately, else one interval later.
        3. Already active with the same interval: leave the grid alone.
        """
        job_id = f"strategy_{strategy_id}"
        with transaction.atomic():
            schedule = self.select_for_update().filter(job_id=job_id).first()
            if not active:
                if schedule and schedule.enabled:
                    schedule.enabled = False
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

    class Meta:
        ordering = ["job_id"]
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
            SchedulerState.bump()
            _project([self.job_id])

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            result = super().delete(*args, **kwargs)
            SchedulerState.bump()
            _project([self.job_id])
        return result

    def clean(self) -> None:
        errors = {}
        if self.kind == self.INTERVAL and not self.interval_seconds:
            errors["interval_seconds"] = "An interval schedule needs an interval."
        if self.task in registry.TASKS:
            try:
                registry.check_arguments(self.task, self.kwargs)
            except ValueError as exc:
                errors["kwargs"] = str(exc).capitalize() + "."
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


class JobRunManager(models.Manager):
    def with_last_recorded_slot(self, schedules):
        """`schedules` annotated with `last_recorded_slot` (what `last_slot` returns), in
        one query: a scheduler starting with ten thousand schedules asked ten thousand
        times."""
        newest = self.filter(job_id=models.OuterRef("job_id")).order_by("-scheduled_at")
        rows = schedules.annotate(
            _last=models.Subquery(newest.values("scheduled_at")[:1]),
            _until=models.Subquery(newest.values("missed_until")[:1]),
        )
        for schedule in rows:
            last, until = schedule._last, schedule._until
            schedule.last_recorded_slot = last and max(last, until or last)
            yield schedule

    def last_slot(self, job_id: str, since: datetime | None = None) -> datetime | None:
        """The newest slot a run record accounts for (a missed range counts to its end),
        optionally only among slots from `since` on."""
        runs = self.filter(job_id=job_id)
        if since is not None:
            runs = runs.filter(Q(scheduled_at__gte=since) | Q(missed_until__gte=since))
        row = runs.order_by("-scheduled_at").values_list("scheduled_at", "missed_until").first()
        if row is None:
            return None
        slot, missed_until = row
        return max(slot, missed_until or slot)


class JobRun(models.Model):
    """The claim on a slot and the record of how it went: one row per (job, slot)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"
    MISSED = "missed"
    SKIPPED = "skipped"
    STATUS_CHOICES = [
        (RUNNING, "running"),
        (SUCCEEDED, "succeeded"),
        (FAILED, "failed"),
        (TIMED_OUT, "timed out"),
        (INTERRUPTED, "interrupted"),
        (MISSED, "missed"),
        (SKIPPED, "skipped"),
    ]
    FINISHED = (SUCCEEDED, FAILED, TIMED_OUT, INTERRUPTED)

    job_id = models.CharField("job id", max_length=200)
    scheduled_at = models.DateTimeField("slot", help_text="The time this run was due.")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=STATUS_CHOICES, default=RUNNING)
    attempt = models.PositiveSmallIntegerField(default=1)
    owner = models.CharField(max_length=200, blank=True, help_text="host:pid that ran it.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    traceback = models.TextField(blank=True)
    missed_count = models.PositiveIntegerField(null=True, blank=True)
    missed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.JSONField(
        "earlier attempts",
        default=list,
        blank=True,
        help_text="Each earlier attempt's number, end time and error, oldest first.",
    )

    objects = JobRunManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job_id", "scheduled_at"], name="jobrun_one_claim_per_slot"
            ),
        ]
        indexes = [
            # A job's history, newest first (admin, status pages, "last run").
            models.Index(fields=["job_id", "-scheduled_at"], name="jobrun_history"),
            # The overlap check and the reaper look for runs still going.
            models.Index(fields=["status", "job_id"], name="jobrun_status"),
        ]
        ordering = ["-scheduled_at"]

    def __str__(self) -> str:
        return f"{self.job_id} @ {self.scheduled_at:%Y-%m-%d %H:%M:%S} ({self.status})"

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class ProbeRun(models.Model):
    """The probe ledger: one row per execution that started, with no unique key, so a slot
    executed twice shows up as two rows (a `JobRun` count could never show it)."""

    job_id = models.CharField(max_length=200)
    scheduled_at = models.DateTimeField()
    attempt = models.PositiveSmallIntegerField(default=1)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The ledger checks group executions by slot.
            models.Index(fields=["job_id", "scheduled_at"], name="proberun_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} @ {self.scheduled_at.isoformat()} (pid {self.pid})"


class JobCounterManager(models.Manager):
    def add(self, job_id: str, increments: list[tuple]) -> None:
        """Add each `(name, label, amount[, total])` to job `job_id`'s counters in one
        statement.

        An upsert (`INSERT … ON CONFLICT … DO UPDATE`, on PostgreSQL and SQLite alike) so
        two processes finishing runs of one job at the same moment both count."""
        if not increments:
            return
        qn = connection.ops.quote_name
        table = qn(self.model._meta.db_table)
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(increments))
        params = []
        for name, label, amount, *total in increments:
            params += [job_id, name, label, amount, total[0] if total else 0.0]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (job_id, name, label, value, total) VALUES {rows} "
                "ON CONFLICT (job_id, name, label) DO UPDATE SET "
                f"value = {table}.value + excluded.value, total = {table}.total + excluded.total",
                params,
            )


class JobCounter(models.Model):
    """A monotonic counter of one job, for `/metrics`: runs by status, histogram buckets,
    missed slots, suppressed duplicates.

    Kept apart from `JobRun`, so the history's cleanup never decreases a counter, and in
    the database, so every web process (every Heroku dyno) answers a scrape with the same
    totals. `name` is the series (`runs`, `duration`, …), `label` its label value (a
    status, a histogram bucket's upper bound) or empty. A bucket row also sums what fell
    in it (`total`): a histogram's sum and count come from its buckets, so a run writes
    three rows (status, duration, lag), not seven.
    """

    job_id = models.CharField("job id", max_length=200)
    name = models.CharField(max_length=40)
    label = models.CharField(max_length=40, blank=True)
    value = models.FloatField(default=0)
    total = models.FloatField(default=0, help_text="Sum of the observations counted here.")

    objects = JobCounterManager()

    class Meta:
        constraints = [
            # The upsert's conflict target; the scrape reads the whole table in this order.
            models.UniqueConstraint(fields=["job_id", "name", "label"], name="jobcounter_key"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} {self.name}{{{self.label}}} = {self.value:g}"


class JobHealth(models.Model):
    """A job's health as the status pages and alerts see it: `ok`, `late` or `failing`
    (paused is the schedule's own `enabled`).

    Stored, not computed per page, so `/jobs/?state=failing` is an indexed filter over ten
    thousand schedules. Runs update the failure streak as they finish; the scheduler's
    bookkeeping marks jobs late. Each change of state sends one alert.
    """

    OK = "ok"
    LATE = "late"
    FAILING = "failing"
    STATE_CHOICES = [(OK, "ok"), (LATE, "late"), (FAILING, "failing")]

    job_id = models.CharField("job id", max_length=200, unique=True)
    state = models.CharField(max_length=10, choices=STATE_CHOICES, default=OK)
    failures_in_a_row = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "job health"
        verbose_name_plural = "job health"
        indexes = [
            # `/jobs/?state=late|failing`: the job ids in one state.
            models.Index(fields=["state", "job_id"], name="jobhealth_state"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.state}"


class RunRequest(models.Model):
    """A "Run now": a manual slot (the second it was asked for) waiting for the scheduler.

    The web process writes this row and notifies, as for any change; the process holding
    the scheduler lock takes it (a conditional update, so once) and hands the slot to its
    engine, which runs it through `run_job` like any scheduled slot: claim, overlap limit,
    history. Nothing runs inside the request.
    """

    job_id = models.CharField("job id", max_length=200)
    slot = models.DateTimeField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    requested_at = models.DateTimeField(default=timezone.now)
    handed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The scheduler's poll: requests not handed to the engine yet.
            models.Index(
                fields=["requested_at"],
                name="runrequest_pending",
                condition=Q(handed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.job_id} now ({self.slot:%Y-%m-%d %H:%M:%S})"


class ApiToken(models.Model):
    """A per-user API token for scripts (`Authorization: Bearer <token>`).

    Only a SHA-256 digest is stored: the token is shown once, when it is created in
    admin, and a leaked database does not leak working tokens. Tokens are long random
    strings, so a fast hash is enough (no guessing attack to slow down)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'deploy script'.")
    prefix = models.CharField(
        max_length=12, editable=False, help_text="The token's first characters, to tell it apart."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
