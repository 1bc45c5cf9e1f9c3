"""The scheduler's one row of shared state: the change counter, and who runs the scheduler."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, models
from django.db.models import F
from django.utils import timezone

CHANGES_CHANNEL = "altar_schedules"

# A heartbeat, a claim's or the lock holder's, is stale after this many missed beats.
MISSED_BEATS = 3


def stale_after() -> timedelta:
    """How old a heartbeat may be before its process is taken for dead."""
    return timedelta(seconds=settings.SCHEDULER_HEARTBEAT_SECONDS * MISSED_BEATS)


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
    outage_alerted_for = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The last heartbeat of the scheduler whose death was mailed: one mail "
        "per outage, whichever process noticed it first.",
    )

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

    def heartbeat_age(self) -> float | None:
        """Seconds since the lock holder's last heartbeat; None when none has run yet."""
        if not self.holder or self.holder_seen_at is None:
            return None
        return (timezone.now() - self.holder_seen_at).total_seconds()

    def holder_alive(self) -> bool:
        """A lock holder whose heartbeat is fresh (as claims are judged: `stale_after`)."""
        age = self.heartbeat_age()
        return age is not None and age <= stale_after().total_seconds()

    def outage(self) -> str | None:
        """What to tell a person when no scheduler runs (no lock holder, or its heartbeat
        is stale), or None while one does: the status pages and admin say it at the top."""
        if self.holder_alive():
            return None
        if self.holder_seen_at is None:
            since = "no scheduler has run yet"
        else:
            seen = timezone.localtime(self.holder_seen_at).strftime("%Y-%m-%d %H:%M:%S %Z")
            since = f"the last one was seen at {seen}"
        return (
            f"No scheduler is running ({since}): no job runs until one starts. Start "
            "`.venv/bin/python manage.py runscheduler`, or a web process with "
            "SCHEDULER_AUTOSTART=true. Late states are judged from the runs recorded; "
            "the state filter reads stored states, which stand still meanwhile."
        )

    def catching_up(self) -> bool:
        """A scheduler that took the lock less than one health look ago
        (SCHEDULER_HEALTH_EVERY): the states it stores are still being rechecked."""
        if not self.holder_alive() or self.holder_since is None:
            return False
        age = (timezone.now() - self.holder_since).total_seconds()
        return age < settings.SCHEDULER_HEALTH_EVERY

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=1).values_list("changes", flat=True).first() or 0
