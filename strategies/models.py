"""Strategies: what the user switches on and off. Each active strategy has a job,
`strategy_<id>`, that the scheduler runs every `interval_seconds`."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction

from scheduler.models import Schedule
from scheduler.slots import MAX_INTERVAL, MIN_INTERVAL


class StrategyQuerySet(models.QuerySet):
    def delete(self):
        """Bulk deletes (admin's "Delete selected") remove the strategies' jobs too."""
        with transaction.atomic():
            job_ids = [f"strategy_{pk}" for pk in self.values_list("pk", flat=True)]
            Schedule.objects.filter(job_id__in=job_ids).delete()
            return super().delete()

    def visible_to(self, user):
        """The strategies `user` may see and change: their own, or all for a superuser.
        Admin, pages and the API all scope through this one method."""
        if user.is_superuser:
            return self
        return self.filter(owner_id=user.pk)


class Strategy(models.Model):
    TIMEFRAMES = [
        ("1m", "1 minute"),
        ("5m", "5 minutes"),
        ("15m", "15 minutes"),
        ("1h", "1 hour"),
        ("4h", "4 hours"),
        ("1d", "1 day"),
    ]

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="strategies",
        help_text="Who sees and changes this strategy (superusers see all).",
    )
    symbol = models.CharField(max_length=30, default="BTC/USDT", help_text="e.g. BTC/USDT")
    timeframe = models.CharField(max_length=5, choices=TIMEFRAMES, default="1h")
    interval_seconds = models.PositiveIntegerField(
        "interval (seconds)",
        default=300,
        validators=[MinValueValidator(MIN_INTERVAL), MaxValueValidator(MAX_INTERVAL)],
        help_text="How often the strategy runs: from 1 second to 31 days.",
    )
    is_active = models.BooleanField(
        "active", default=False, help_text="Active strategies run on their interval."
    )
    start_immediately = models.BooleanField(
        default=True, help_text="On start, run at once instead of one interval later."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StrategyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "strategies"
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.symbol} {self.timeframe})"

    def save(self, *args, **kwargs) -> None:
        """Save and bring job `strategy_<id>` in line, in one transaction, however the
        strategy was changed (admin form, list checkbox, action, API, shell)."""
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.sync_schedule()

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            Schedule.objects.filter(job_id=self.job_id).delete()
            return super().delete(*args, **kwargs)

    @property
    def job_id(self) -> str:
        return f"strategy_{self.pk}"

    def sync_schedule(self) -> None:
        if not self.is_active and not Schedule.objects.filter(job_id=self.job_id).exists():
            return
        Schedule.objects.set_strategy_job(
            self.pk,
            active=self.is_active,
            interval_seconds=self.interval_seconds,
            start_immediately=self.start_immediately,
            label=f"Strategy {self.name}",
        )

    def start(self) -> bool:
        """Activate; returns False when it was already active. An active strategy whose
        job was disabled meanwhile gets it back."""
        if self.is_active:
            self.sync_schedule()
            return False
        self.is_active = True
        self.save(update_fields=["is_active", "updated_at"])
        return True

    def stop(self) -> bool:
        """Deactivate; returns False when it was already stopped."""
        if not self.is_active:
            return False
        self.is_active = False
        self.save(update_fields=["is_active", "updated_at"])
        return True
