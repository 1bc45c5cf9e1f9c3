"""The hub served by gunicorn, with the scheduler inside the web process (the default)."""

import urllib.request

import pytest

from scheduler.models import JobRun, ProbeRun, Schedule
from tests import support

pytestmark = pytest.mark.subprocess


@pytest.fixture
def web(transactional_db):
    started = []

    def start(**env):
        process, url = support.gunicorn(1, support.subprocess_env(**env))
        started.append(process)
        process.wait_for_line(r"Booting worker", timeout=30)
        return process, url

    yield start
    for process in started:
        process.stop()


def test_the_web_process_runs_the_scheduler_by_default(web, strategy):
    process, url = web(SCHEDULER_AUTOSTART="true")
    process.wait_for_line(r"Background scheduler started, backend=apscheduler", timeout=30)
    assert "Registered job collect_crypto_data (every 10m)" in process.output
    strategy.start()
    support.wait_until(
        lambda: JobRun.objects.filter(job_id=strategy.job_id, status="succeeded").exists(),
        10,
        "the strategy to run inside the web process",
    )
    with urllib.request.urlopen(f"{url}/admin/login/", timeout=10) as response:
        assert response.status == 200


def test_with_autostart_off_the_web_process_runs_no_scheduler(web):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)
    process, url = web(SCHEDULER_AUTOSTART="false")
    with urllib.request.urlopen(f"{url}/admin/login/", timeout=10) as response:
        assert response.status == 200
    # The app (and wsgi.py) has loaded. Had it started a scheduler, that one would hold
    # the lock: a `runscheduler` started now must get the lock and do every run itself.
    scheduler = support.manage("runscheduler")
    try:
        scheduler.wait_for_line("Scheduler lock acquired by", timeout=30)
        support.wait_until(lambda: ProbeRun.objects.count() >= 2, 10, "two probe runs")
    finally:
        scheduler.stop()
    assert set(ProbeRun.objects.values_list("pid", flat=True)) == {scheduler.proc.pid}
    assert "Scheduler lock" not in process.output
