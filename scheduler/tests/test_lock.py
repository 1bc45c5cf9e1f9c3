"""One scheduler per machine: the others stand by and take over when it dies."""

import signal
import time

import pytest

from scheduler.models import ProbeRun, Schedule
from tests import support

pytestmark = pytest.mark.subprocess


def test_a_second_runscheduler_stands_by_and_takes_over_when_the_first_is_killed(
    scheduler_process,
):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)
    holder = scheduler_process()
    assert "Scheduler lock acquired by" in holder.output
    standby = support.manage("runscheduler")
    try:
        match = standby.wait_for_line(r"Scheduler lock held by (\S+), standing by", timeout=20)
        assert match.group(1).endswith(f":{holder.proc.pid}")
        support.wait_until(lambda: ProbeRun.objects.count() >= 2, 10, "runs by the holder")
        assert set(ProbeRun.objects.values_list("pid", flat=True)) == {holder.proc.pid}

        holder.stop(signal.SIGKILL)
        killed = time.monotonic()
        standby.wait_for_line("Background scheduler started", timeout=10)
        assert time.monotonic() - killed < 10
        support.wait_until(
            lambda: ProbeRun.objects.filter(pid=standby.proc.pid).count() >= 2,
            10,
            "runs by the new holder",
        )
    finally:
        standby.stop()
    assert support.duplicates() == []
    first = ProbeRun.objects.order_by("scheduled_at").first().scheduled_at
    last = ProbeRun.objects.order_by("scheduled_at").last().scheduled_at
    assert support.lost("probe_1", first, last) == []


def test_gunicorn_with_several_workers_runs_one_scheduler(transactional_db):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)
    web, _ = support.gunicorn(3, support.subprocess_env(SCHEDULER_AUTOSTART="true"))
    try:
        web.wait_for_line("Background scheduler started", timeout=30)
        support.wait_until(lambda: web.output.count("standing by") == 2, 30, "two standbys")
        support.wait_until(lambda: ProbeRun.objects.count() >= 3, 10, "probe runs")
    finally:
        assert web.stop() == 0
    assert web.output.count("Background scheduler started") == 1
    assert len(set(ProbeRun.objects.values_list("pid", flat=True))) == 1
    assert support.duplicates() == []
