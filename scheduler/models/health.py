"""What the hub knows about its jobs' health: per-job counters for `/metrics`
(`JobCounter`), each job's state for the status pages and alerts (`JobHealth`), and the
hourly health check's report (`HealthReport`)."""

from __future__ import annotations

from django.db import connection, models
from django.utils import timezone

from .owners import JobScopedQuerySet, manages_system_jobs


class JobCounterManager(models.Manager.from_queryset(JobScopedQuerySet)):
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

    objects = JobScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "job health"
        verbose_name_plural = "job health"
        indexes = [
            # `/jobs/?state=late|failing`: the job ids in one state.
            models.Index(fields=["state", "job_id"], name="jobhealth_state"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.state}"


class HealthReportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The hub's own health (database, broker, lock): a system record."""
        return self if manages_system_jobs(user) else self.none()


class HealthReport(models.Model):
    """One run of the health check: the overall verdict and each check's outcome.

    `checks` is a list of `{"name", "status", "message"}` with status `ok`, `warn` or
    `fail`, so a page or `/healthz` can show the latest report without re-running anything.
    """

    OK, WARN, FAIL = "ok", "warn", "fail"
    STATUS_CHOICES = [(OK, "ok"), (WARN, "warning"), (FAIL, "failing")]

    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=4, choices=STATUS_CHOICES)
    summary = models.CharField(max_length=500)
    checks = models.JSONField(default=list)

    objects = HealthReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # "the latest report" for pages and /healthz; and retention by age.
            models.Index(fields=["created_at"], name="healthreport_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.status}: {self.summary}"

    @classmethod
    def latest(cls) -> HealthReport | None:
        return cls.objects.order_by("-created_at").first()

    @classmethod
    def record(cls, checks: list[dict[str, str]]) -> HealthReport:
        """Store the checks; the report's status is the worst of theirs."""
        order = [cls.OK, cls.WARN, cls.FAIL]
        status = max((c["status"] for c in checks), key=order.index, default=cls.OK)
        summary = "; ".join(f"{c['name']} {c['status']}" for c in checks)
        summary = summary[: cls._meta.get_field("summary").max_length]
        return cls.objects.create(status=status, summary=summary, checks=checks)
