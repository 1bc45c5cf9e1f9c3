"""The built-in jobs that look after the hub itself: cleanup, the health check, and the
probe (a diagnostic task for tests and benchmarks).

What other apps add to the first two (their data's retention, the freshness of market
data) is named in the registry and called by dotted name, so the scheduler still imports
no other app.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import registry
from .backends import get_backend_class
from .models import HealthReport, JobRun, ProbeRun, SchedulerState, stale_after


def delete_in_batches(queryset: models.QuerySet, batch: int | None = None) -> tuple[int, float]:
    """Delete `queryset`'s rows `batch` (CLEANUP_BATCH_SIZE) at a time; return (rows
    deleted, longest batch in seconds).

    Each batch is its own short transaction (a `DELETE … WHERE id IN (…)` of ids found
    through an index), so a cleanup of millions of rows never holds locks long enough to
    stall the scheduler's writes or the web."""
    batch = batch or settings.CLEANUP_BATCH_SIZE
    model = queryset.model
    total, longest = 0, 0.0
    while True:
        started = time.monotonic()
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch])
            if ids:
                total += model.objects.filter(pk__in=ids).delete()[0]
        longest = max(longest, time.monotonic() - started)
        if len(ids) < batch:
            return total, longest


def cleanup_old_data(retention_days: int | None = None) -> str:
    """Delete finished runs and probe rows older than `retention_days` (default
    RUN_HISTORY_RETENTION_DAYS), what each app's retention (`registry.RETENTION`) says
    is past it, and health reports past the run history's retention, each in batches of
    CLEANUP_BATCH_SIZE rows per transaction. Runs still going are kept."""
    days = settings.RUN_HISTORY_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = timezone.now() - timedelta(days=days)
    runs, _ = delete_in_batches(
        JobRun.objects.filter(scheduled_at__lt=cutoff).exclude(status=JobRun.RUNNING)
    )
    probes, _ = delete_in_batches(ProbeRun.objects.filter(started_at__lt=cutoff))
    deleted = [
        f"{delete_in_batches(queryset)[0]} {what}"
        for path in registry.RETENTION
        for what, queryset in import_string(path)()
    ]
    history = timezone.now() - timedelta(days=settings.RUN_HISTORY_RETENTION_DAYS)
    reports, _ = delete_in_batches(HealthReport.objects.filter(created_at__lt=history))
    deleted.append(f"{reports} health reports")
    return (
        f"deleted {runs} run records and {probes} probe rows older than {days} days, "
        + ", ".join(deleted)
    )


def health_check() -> str:
    """Check the database, the broker, the scheduler lock and heartbeat, and what other
    apps add (`registry.HEALTH_CHECKS`: the freshness of market data); record a
    `HealthReport` and return its summary.

    A failing check is recorded, not raised: the report is what pages and `/healthz` read.
    """
    checks = [_database(), _broker(), _scheduler()]
    if checks[0]["status"] == "ok":
        for name, path in registry.HEALTH_CHECKS.items():
            try:
                checks.append(import_string(path)())
            except Exception as exc:  # reported, so the report is still recorded
                checks.append(_check(name, False, f"{type(exc).__name__}: {exc}"))
    report = HealthReport.record(checks)
    return f"{report.status}: " + "; ".join(f"{c['name']}: {c['message']}" for c in checks)


def refresh_health(sender, task: str, status: str, **kwargs) -> None:
    """`signals.run_finished` → a new health report after a task that brings new data
    (`refreshes_health` in the registry) succeeds: the hourly report would otherwise say
    "no candles" for up to an hour after a fresh hub's first collection."""
    declared = registry.TASKS.get(task)
    if status == JobRun.SUCCEEDED and declared is not None and declared.refreshes_health:
        health_check()


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
    """The lock holder's heartbeat: fresh, as `SchedulerState.holder_alive` judges it."""
    try:
        state = SchedulerState.get()
    except Exception as exc:
        return _check("scheduler", False, f"{type(exc).__name__}: {exc}")
    age = state.heartbeat_age()
    if age is None:
        return _check("scheduler", False, "no process holds the scheduler lock")
    ok = state.holder_alive()
    message = f"lock held by {state.holder}, heartbeat {age:.0f}s ago"
    limit = stale_after().total_seconds()
    return _check("scheduler", ok, message + ("" if ok else f" (over {limit:.0f}s)"))


def probe(
    job_id: str,
    slot: datetime,
    attempt: int,
    sleep: float = 0,
    fail: bool = False,
    fail_attempts: int = 0,
    kill_attempts: int = 0,
) -> str:
    """Insert a `ProbeRun` as soon as it starts, committed at once (autocommit), so even
    an execution that dies later is counted; sleep `sleep` seconds, then mark it finished.

    Faults on demand: `fail=True` raises after the sleep (every attempt), `fail_attempts=N`
    raises in attempts 1..N only, and `kill_attempts=N` kills its own process with SIGKILL
    in attempts 1..N, after the sleep (a task that takes its worker down)."""
    table = connection.ops.quote_name(ProbeRun._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO {table} ("job_id", "scheduled_at", "attempt", "pid", "started_at") '
            'VALUES (%s, %s, %s, %s, %s) RETURNING "id"',
            [job_id, adapt(slot), attempt, os.getpid(), adapt(timezone.now())],
        )
        row_id = cursor.fetchone()[0]
    if sleep:
        time.sleep(sleep)
    if attempt <= kill_attempts:
        os.kill(os.getpid(), signal.SIGKILL)
    if fail or attempt <= fail_attempts:
        raise RuntimeError(f"probe {job_id} asked to fail")
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE {table} SET "finished_at" = %s WHERE "id" = %s',
            [adapt(timezone.now()), row_id],
        )
    return f"probe slot {slot.isoformat()} attempt {attempt}"
