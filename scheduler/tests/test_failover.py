"""Exactly one scheduler across processes and "dynos" on PostgreSQL, with fail-over.

Real processes on the test database, counted with the probe ledger.
"""

import signal
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from scheduler.models import ProbeRun, Schedule
from tests import support

pytestmark = [pytest.mark.subprocess, pytest.mark.postgres_only]

TAKEOVER_BOUND = 10


@pytest.fixture(autouse=True)
def needs_postgres(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("the cross-process lock tests need PostgreSQL (DATABASE_URL=postgres://...)")


def probes(count=3):
    for n in range(1, count + 1):
        Schedule.objects.create(job_id=f"probe_{n}", task="probe", interval_seconds=1)


def executing_pids(since=None):
    runs = ProbeRun.objects.all()
    if since is not None:
        runs = runs.filter(started_at__gte=since)
    return set(runs.values_list("pid", flat=True))


def assert_each_slot_once(start, end, count=3):
    assert support.duplicates() == []
    for n in range(1, count + 1):
        assert support.lost(f"probe_{n}", start, end) == [], f"probe_{n}"


def test_two_gunicorn_masters_with_two_workers_each_run_each_slot_once():
    from tests.support import free_port

    probes()
    masters = [
        support.Process(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "altar.wsgi",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{free_port()}",
            ],
            env=support.subprocess_env(SCHEDULER_AUTOSTART="true"),
        )
        for _ in range(2)
    ]
    try:
        support.wait_until(
            lambda: (
                sum(m.output.count("Background scheduler started") for m in masters) == 1
                and sum(m.output.count("standing by") for m in masters) == 3
            ),
            30,
            "one holder and three standbys",
        )
        start = timezone.now()
        time.sleep(30)  # the window under test: thirty seconds of one-second slots
        end = timezone.now() - timezone.timedelta(seconds=2)
        # Counted before the masters stop: while the holder's master shuts down, a
        # standby in the other one rightly takes over.
        outputs = "\n".join(m.output for m in masters)
    finally:
        for master in masters:
            master.stop()
    assert outputs.count("Scheduler lock acquired by") == 1, outputs
    pids = set(ProbeRun.objects.filter(started_at__lte=end).values_list("pid", flat=True))
    assert len(pids) == 1
    assert_each_slot_once(start, end)


@pytest.fixture
def holder_and_standby(scheduler_process):
    """Three one-second probes, a `runscheduler` holding the lock, and a second one
    standing by (stopped at teardown; the holder by `scheduler_process`)."""
    probes()
    holder = scheduler_process()
    standby = support.manage("runscheduler")
    try:
        standby.wait_for_line("standing by", timeout=20)
        yield holder, standby
    finally:
        standby.stop()


def test_sigkill_of_the_holder_hands_over_within_the_bound_and_doubles_nothing(
    holder_and_standby,
):
    holder, standby = holder_and_standby
    support.wait_until(lambda: ProbeRun.objects.count() >= 6, 10, "runs by the holder")
    start = ProbeRun.objects.earliest("scheduled_at").scheduled_at
    holder.stop(signal.SIGKILL)
    killed = time.monotonic()
    standby.wait_for_line("Background scheduler started", timeout=TAKEOVER_BOUND)
    took = time.monotonic() - killed
    support.wait_until(
        lambda: ProbeRun.objects.filter(pid=standby.proc.pid).count() >= 6, 10, "new runs"
    )
    end = timezone.now() - timezone.timedelta(seconds=2)
    assert took < TAKEOVER_BOUND
    assert executing_pids() == {holder.proc.pid, standby.proc.pid}
    assert_each_slot_once(start, end)


def test_a_frozen_holder_loses_the_lock_and_fires_nothing_when_it_wakes(holder_and_standby):
    holder, standby = holder_and_standby
    support.wait_until(lambda: ProbeRun.objects.count() >= 3, 10, "runs by the holder")
    holder.proc.send_signal(signal.SIGSTOP)
    frozen = time.monotonic()
    try:
        standby.wait_for_line("Background scheduler started", timeout=TAKEOVER_BOUND + 2)
        took = time.monotonic() - frozen
        support.wait_until(
            lambda: ProbeRun.objects.filter(pid=standby.proc.pid).count() >= 3, 10, "new runs"
        )
        mark = len(holder.lines)
        woke = timezone.now()
    finally:
        holder.proc.send_signal(signal.SIGCONT)
    holder.wait_for_line("Scheduler lock lost", timeout=10, start=mark)
    support.wait_until(
        lambda: ProbeRun.objects.filter(pid=standby.proc.pid, started_at__gte=woke).count() >= 6,
        10,
        "the new holder firing on after the old one woke",
    )
    assert took < TAKEOVER_BOUND + 2
    assert executing_pids(since=woke) == {standby.proc.pid}
    assert support.duplicates() == []


def test_terminating_the_lock_session_stops_the_holder_and_a_standby_takes_over(
    holder_and_standby,
):
    holder, standby = holder_and_standby
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            [f"altar-scheduler {holder_name(holder)}"],
        )
        assert cursor.rowcount == 1
    cut = timezone.now()
    holder.wait_for_line("Scheduler lock lost", timeout=10)
    standby.wait_for_line("Background scheduler started", timeout=TAKEOVER_BOUND)
    support.wait_until(
        lambda: ProbeRun.objects.filter(pid=standby.proc.pid).count() >= 6, 10, "new runs"
    )
    assert holder.proc.pid not in executing_pids(since=cut + timezone.timedelta(seconds=2))
    assert support.duplicates() == []


def holder_name(process) -> str:
    return process.wait_for_line(r"Scheduler lock acquired by (\S+)").group(1)
