"""The probe task, for tests and benchmarks: it leaves one ledger row per execution.

Its two writes are plain SQL so that a benchmark measures the scheduler, not the ORM.
"""

import os
import signal
import time
from datetime import datetime

from django.db import connection
from django.utils import timezone

from .models import ProbeRun


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
