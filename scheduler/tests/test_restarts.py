"""Real `runscheduler` processes stopped, killed and started again."""

import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, Schedule
from tests import support

pytestmark = pytest.mark.subprocess


def test_after_a_stop_each_job_continues_on_its_grid_and_the_gap_is_one_missed_record(
    scheduler_process, fault_report
):
    schedule = Schedule.objects.create(
        job_id="probe_1", task="probe", interval_seconds=1, misfire_grace_seconds=2
    )
    first = scheduler_process()
    support.wait_until(lambda: ProbeRun.objects.count() >= 2, 10, "two probe runs")
    assert first.stop() == 0
    stopped = timezone.now()
    # The outage itself: several intervals with no scheduler at all.
    time.sleep(4)

    second = scheduler_process()
    restarted = timezone.now()
    support.wait_until(
        lambda: ProbeRun.objects.filter(started_at__gte=restarted).count() >= 3,
        10,
        "runs after the restart",
    )
    second.stop()

    # (A slot may also have been missed while the first scheduler was starting: that is a
    # separate record, before the outage.)
    gap = JobRun.objects.get(
        job_id="probe_1", status=JobRun.MISSED, missed_until__gte=stopped - timedelta(seconds=2)
    )
    assert gap.missed_count >= 2
    assert stopped - timedelta(seconds=2) <= gap.scheduled_at <= gap.missed_until <= restarted
    assert "while the scheduler was stopped" in gap.summary
    window_end = ProbeRun.objects.latest("scheduled_at").scheduled_at
    first_after = ProbeRun.objects.filter(started_at__gte=restarted).earliest("started_at")
    fault_report.check_ledger(
        2,
        ["probe_1"],
        schedule.anchor,
        window_end,
        recovery=(first_after.started_at - restarted).total_seconds(),
        note="a 4 s outage of a 1 s job (grace 2 s)",
    )
    # Slots stay on the anchor's grid, and no catch-up burst followed the restart.
    assert all(
        (slot - schedule.anchor).total_seconds() % 1 == 0
        for slot in ProbeRun.objects.values_list("scheduled_at", flat=True)
    )
    burst = ProbeRun.objects.filter(
        started_at__gte=restarted, started_at__lt=restarted + timedelta(seconds=1)
    )
    assert burst.count() <= 2


def test_a_run_cut_short_by_sigkill_is_interrupted_then_retried_once_as_attempt_two(
    scheduler_process,
):
    Schedule.objects.create(
        job_id="probe_1",
        task="probe",
        interval_seconds=3600,
        max_attempts=2,
        kwargs={"sleep": 2},
    )
    victim = scheduler_process()
    support.wait_until(lambda: ProbeRun.objects.exists(), 10, "the first attempt to start")
    victim.stop(signal.SIGKILL)
    assert JobRun.objects.get(job_id="probe_1").status == JobRun.RUNNING  # not noticed yet

    scheduler_process()
    run = support.wait_until(
        lambda: JobRun.objects.filter(job_id="probe_1", status=JobRun.SUCCEEDED).first(),
        15,
        "attempt 2 to finish",
    )
    assert run.attempt == 2
    assert "attempt 1: interrupted" in run.summary
    attempts = list(ProbeRun.objects.order_by("attempt").values_list("attempt", "finished_at"))
    assert [a for a, _ in attempts] == [1, 2]
    assert attempts[0][1] is None  # attempt 1 never finished: it was killed
    assert support.duplicates() == []


def test_with_no_attempts_left_a_killed_run_stays_interrupted(scheduler_process):
    Schedule.objects.create(
        job_id="probe_1", task="probe", interval_seconds=3600, kwargs={"sleep": 2}
    )
    victim = scheduler_process()
    support.wait_until(lambda: ProbeRun.objects.exists(), 10, "the run to start")
    victim.stop(signal.SIGKILL)
    restarted = scheduler_process()
    support.wait_until(
        lambda: JobRun.objects.filter(job_id="probe_1", status=JobRun.INTERRUPTED).exists(),
        10,
        "the reaper",
    )
    assert "was interrupted" in restarted.output
    assert ProbeRun.objects.count() == 1


def test_sqlite_takes_a_scheduler_and_a_writing_web_process_at_once(scheduler_process, strategy):
    from django.core.management import call_command

    call_command("probe", "--count", "50", "--interval", "1", verbosity=0)
    process = scheduler_process()
    started = timezone.now()
    # The "web process": this test, writing schedules and strategies while jobs run.
    deadline = time.monotonic() + 5
    writes = 0
    while time.monotonic() < deadline:
        strategy.start() if not strategy.is_active else strategy.stop()
        Schedule.objects.filter(job_id="health_check").update(description=f"edit {writes}")
        writes += 2
    ended = timezone.now()
    support.wait_until(
        lambda: ProbeRun.objects.filter(scheduled_at__gte=ended).count() >= 50, 10, "a full round"
    )
    process.stop()
    assert "database is locked" not in process.output
    assert "Traceback" not in process.output
    assert writes > 20
    assert support.duplicates() == []
    for n in range(1, 51):
        assert support.lost(f"probe_{n}", started, ended) == [], f"probe_{n}"
