"""Run-now requests are taken once, whoever looks, and counted like any run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.engine import run_requests
from scheduler.models import JobCounter, JobRun, RunRequest, Schedule, SchedulerState
from scheduler.runs import claims
from scheduler.web import control
from tests import support


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_taking_the_same_request_hand_it_over_once():
    schedule = Schedule.objects.get(job_id="health_check")
    control.run_now(schedule, None, via="test")
    results = support.race(run_requests.take)
    assert sorted(len(taken) for taken in results) == [0, 1]
    assert RunRequest.objects.get().handed_at is not None


@pytest.mark.django_db
def test_a_request_is_a_row_and_a_bump_never_a_run():
    before = SchedulerState.current()
    control.run_now(Schedule.objects.get(job_id="health_check"), None, via="test")
    assert SchedulerState.current() == before + 1
    assert not JobRun.objects.exists()
    ((job_id, slot),) = run_requests.take()
    assert job_id == "health_check" and slot == RunRequest.objects.get().slot
    assert run_requests.take() == []


@pytest.mark.django_db
def test_a_request_the_engine_refuses_is_put_back_and_handed_over_next_time():
    from scheduler.engine.runner import SchedulerRunner

    class StoppedEngine:
        def redeliver(self, job_id, slot):
            raise RuntimeError("the pool is shut down")

    class Engine:
        handed = []

        def redeliver(self, job_id, slot):
            self.handed.append((job_id, slot))

    control.run_now(Schedule.objects.get(job_id="health_check"), None, via="test")
    runner = SchedulerRunner.__new__(SchedulerRunner)  # only its hand-over is exercised
    runner.backend = StoppedEngine()
    runner.hand_run_requests()
    assert RunRequest.objects.get().handed_at is None  # not lost: pending again
    runner.backend = Engine()
    runner.hand_run_requests()
    assert runner.backend.handed == [("health_check", RunRequest.objects.get().slot)]
    assert RunRequest.objects.get().handed_at is not None


@pytest.mark.django_db
def test_a_reaped_run_is_counted_interrupted():
    beat = timezone.now() - timedelta(minutes=5)
    JobRun.objects.create(
        job_id="health_check",
        scheduled_at=beat,
        status=JobRun.RUNNING,
        owner="gone-host:1",
        started_at=beat,
        heartbeat_at=beat,
    )
    claims.reap()
    counter = JobCounter.objects.get(job_id="health_check", name="runs", label="interrupted")
    assert counter.value == 1
