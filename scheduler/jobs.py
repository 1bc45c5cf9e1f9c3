"""The scheduler's own built-in jobs. Market-data work joins them when that app grows."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from .models import JobRun, ProbeRun, Schedule

BATCH = 5000


def cleanup_old_data(retention_days: int = 30) -> str:
    """Delete finished run records and probe rows older than `retention_days`, in batches so
    a long history never holds one huge transaction. Runs still going are kept."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    runs = _delete_in_batches(
        JobRun.objects.filter(scheduled_at__lt=cutoff).exclude(status=JobRun.RUNNING)
    )
    probes = _delete_in_batches(ProbeRun.objects.filter(started_at__lt=cutoff))
    return (
        f"deleted {runs} run records and {probes} probe rows older than {retention_days} days "
        "(market data cleanup arrives with the market-data app)"
    )


def _delete_in_batches(queryset) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:BATCH])
        if not ids:
            return total
        total += queryset.model.objects.filter(pk__in=ids).delete()[0]


def health_check() -> str:
    """Check the database answers and count what is scheduled; raise if the database fails,
    so the run is recorded failed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    enabled = Schedule.objects.filter(enabled=True).count()
    day_ago = timezone.now() - timedelta(days=1)
    failures = JobRun.objects.filter(
        scheduled_at__gte=day_ago, status__in=[JobRun.FAILED, JobRun.TIMED_OUT]
    ).count()
    return f"database ok; {enabled} schedules enabled; {failures} failed runs in 24h"
