"""The scheduler's PostgreSQL connections: persistent, and never more than configured."""

import pytest
from django.db import connection

from scheduler.models import ProbeRun, Schedule
from tests import support

pytestmark = [pytest.mark.subprocess, pytest.mark.postgres_only]


def other_backends() -> set[int]:
    """Backend pids on the test database, other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def test_a_busy_scheduler_holds_at_most_its_threads_plus_three_connections(scheduler_process):
    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL backends (run with DATABASE_URL=postgres://...)")
    for n in range(1, 13):
        Schedule.objects.create(
            job_id=f"probe_{n}", task="probe", interval_seconds=1, kwargs={"sleep": 0.5}
        )
    # Connections this test process already holds (a session-wide live server's thread,
    # say) are not the scheduler's.
    before = other_backends()
    scheduler_process(env=support.subprocess_env(SCHEDULER_THREADS="4"))
    at_once, ever = [], set()

    def sample_until_sixty_runs():
        backends = other_backends() - before
        at_once.append(len(backends))
        ever.update(backends)
        return ProbeRun.objects.count() >= 60

    support.wait_until(sample_until_sixty_runs, 60, "sixty probe runs", every=0.1)
    # 4 job threads, the bookkeeping loop, the lock session and the notification listener.
    assert max(at_once) <= 4 + 3, at_once
    # Persistent: the same few backends served all sixty runs, none opened per job.
    assert len(ever) <= 4 + 3, ever
