"""What ran and how it went: `JobRun` (the claim on a slot and its record), `RunRequest`
(a "Run now" waiting for the scheduler) and `ProbeRun` (the probe ledger)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .owners import JobScopedQuerySet

# The longest one-line summary a run keeps (`JobRun.summary`); every writer cuts to it.
SUMMARY_LENGTH = 500


# How much of a summary a list shows (admin's lists); the whole text is on its page.
LIST_LENGTH = 120


def one_line(value: object, length: int = SUMMARY_LENGTH) -> str:
    """`value` as one line of at most `length` characters (an error, a summary)."""
    text = " ".join(str(value).split())
    return text[: length - 1] + "…" if len(text) > length else text


class JobRunManager(models.Manager.from_queryset(JobScopedQuerySet)):
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
    summary = models.CharField(max_length=SUMMARY_LENGTH, blank=True)
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

    objects = JobScopedQuerySet.as_manager()

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
