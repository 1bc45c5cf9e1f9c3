"""Run now on a real scheduler: the request is handed to the running engine, which runs
the manual slot through the one execution path (claim, history), never the web request."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, RunRequest, Schedule
from tests import support

pytestmark = pytest.mark.subprocess

BOUND = 30


def daily_probe() -> Schedule:
    """A job that would not run by itself during the test: its first slot is tomorrow."""
    return Schedule.objects.create(
        job_id="probe_daily",
        task="probe",
        interval_seconds=86400,
        anchor=timezone.now() + timedelta(days=1),
    )


def press_run_now(client) -> RunRequest:
    response = client.post("/jobs/probe_daily/run-now")
    assert response.status_code == 302
    return RunRequest.objects.get(job_id="probe_daily")


def assert_ran_once_by(request: RunRequest, pid: int | None = None) -> JobRun:
    run = support.wait_until(
        lambda: JobRun.objects.filter(job_id="probe_daily", status=JobRun.SUCCEEDED).first(),
        BOUND,
        "the manual run",
    )
    assert run.scheduled_at == request.slot  # the manual slot: the second it was asked
    owner_pid = int(run.owner.rpartition(":")[2])
    assert owner_pid != os.getpid()  # not inside the request
    if pid is not None:
        assert owner_pid == pid
    request.refresh_from_db()
    assert request.handed_at is not None
    assert ProbeRun.objects.filter(job_id="probe_daily").count() == 1
    assert support.duplicates() == []
    return run


def test_run_now_is_run_by_the_running_scheduler(scheduler_process, staff_client):
    daily_probe()
    process = scheduler_process()
    mark = len(process.lines)
    request = press_run_now(staff_client)
    process.wait_for_line(r"Run now: probe_daily slot .* handed to the engine", BOUND, mark)
    assert_ran_once_by(request, pid=process.proc.pid)
    assert Schedule.objects.get(job_id="probe_daily").next_fire_time() > timezone.now() + timedelta(
        hours=23
    )


def test_run_now_waits_for_a_scheduler_that_is_not_running_yet(scheduler_process, staff_client):
    daily_probe()
    request = press_run_now(staff_client)
    assert not JobRun.objects.exists()
    process = scheduler_process()
    assert_ran_once_by(request, pid=process.proc.pid)


@pytest.fixture
def celery_worker_and_beat(redis_server, settings):
    """A prefork worker and celery beat (`runscheduler`) on the test database, with the
    shared private-Redis fixture; yields the worker."""
    settings.SCHEDULER_BACKEND = "celery"  # this process writes as a web process would
    env = support.subprocess_env(SCHEDULER_BACKEND="celery", REDIS_URL=redis_server.url)
    started = []
    try:
        started.append(support.celery_worker(env))
        started.append(support.manage("runscheduler", env=env))
        started[-1].wait_for_line(r"Background scheduler started, backend=celery", 60)
        yield started[0]
    finally:
        for process in reversed(started):
            process.stop()


@pytest.mark.postgres_only
def test_run_now_on_the_celery_backend_runs_on_a_worker(celery_worker_and_beat, staff_client):
    daily_probe()
    worker = celery_worker_and_beat
    request = press_run_now(staff_client)
    run = assert_ran_once_by(request)
    assert int(run.owner.rpartition(":")[2]) != worker.proc.pid  # a prefork child ran it
