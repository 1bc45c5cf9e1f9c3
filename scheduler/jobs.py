"""The built-in jobs that look after the hub itself: cleanup and the health check.

Their market-data parts live in `market_data` and are called by dotted name, as the
registry names tasks, so the scheduler still imports no other app.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string

from .backends import get_backend_class
from .models import JobRun, ProbeRun, SchedulerState

DATA_CLEANUP = "market_data.retention.delete_old_market_data"
DATA_FRESHNESS = "market_data.health.freshness_check"
RECORD_HEALTH = "market_data.health.record_report"


def cleanup_old_data(retention_days: int | None = None) -> str:
    """Delete finished runs and probe rows older than `retention_days` (default
    RUN_HISTORY_RETENTION_DAYS) and market data past its own retention, each in batches of
    CLEANUP_BATCH_SIZE rows per transaction. Runs still going are kept."""
    delete_in_batches = import_string("market_data.retention.delete_in_batches")
    days = settings.RUN_HISTORY_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = timezone.now() - timedelta(days=days)
    runs, _ = delete_in_batches(
        JobRun.objects.filter(scheduled_at__lt=cutoff).exclude(status=JobRun.RUNNING)
    )
    probes, _ = delete_in_batches(ProbeRun.objects.filter(started_at__lt=cutoff))
    data = import_string(DATA_CLEANUP)()
    return f"deleted {runs} run records and {probes} probe rows older than {days} days, {data}"


def health_check() -> str:
    """Check the database, the broker, the scheduler lock and heartbeat, and the freshness
    of market data; record a report (`market_data.HealthReport`) and return its summary.

    A failing check is recorded, not raised: the report is what pages and `/healthz` read.
    """
    checks = [_database(), _broker(), _scheduler()]
    if checks[0]["status"] == "ok":
        try:
            checks.append(import_string(DATA_FRESHNESS)())
        except Exception as exc:  # reported, so the report is still recorded
            checks.append(_check("data freshness", False, f"{type(exc).__name__}: {exc}"))
    report = import_string(RECORD_HEALTH)(checks)
    return f"{report.status}: " + "; ".join(f"{c['name']}: {c['message']}" for c in checks)


def _check(name: str, ok: bool, message: str, bad: str = "fail") -> dict[str, str]:
    return {"name": name, "status": "ok" if ok else bad, "message": message}


def ping_database() -> tuple[float | None, Exception | None]:
    """One `SELECT 1`: (milliseconds it took, None), or (None, the error). Any driver
    error means "down"; the health check and /healthz each say so in their own words."""
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return None, exc
    return (time.monotonic() - started) * 1000, None


def _database() -> dict[str, str]:
    took, error = ping_database()
    if error is not None:
        return _check("database", False, f"{type(error).__name__}: {error}")
    return _check("database", True, f"answered in {took:.0f} ms")


def _broker() -> dict[str, str]:
    ok, message = get_backend_class().broker_status()
    return _check("broker", ok, message)


def _scheduler() -> dict[str, str]:
    """The lock holder's heartbeat: stale after three missed beats, as claims are."""
    try:
        state = SchedulerState.get()
    except Exception as exc:
        return _check("scheduler", False, f"{type(exc).__name__}: {exc}")
    if not state.holder or state.holder_seen_at is None:
        return _check("scheduler", False, "no process holds the scheduler lock")
    age = (timezone.now() - state.holder_seen_at).total_seconds()
    limit = 3 * int(settings.SCHEDULER_HEARTBEAT_SECONDS)
    ok = age <= limit
    message = f"lock held by {state.holder}, heartbeat {age:.0f}s ago"
    return _check("scheduler", ok, message + ("" if ok else f" (over {limit}s)"))
