"""`manage.py runscheduler` as a real process on the test database."""

import signal
import time

import pytest
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, Schedule
from tests import support

pytestmark = pytest.mark.subprocess


def runs_of(job_id, status=None):
    runs = JobRun.objects.filter(job_id=job_id)
    return runs.filter(status=status) if status else runs


def test_it_logs_start_and_each_registered_job(scheduler_process):
    process = scheduler_process()
    assert "Background scheduler started, backend=apscheduler" in process.output
    for line in [
        "Registered job collect_crypto_data (every 10m)",
        "Registered job cleanup_old_data (cron 0 3 * * * UTC)",
        "Registered job health_check (every 1h)",
        "Registered job update_exchange_symbols (cron 0 1 * * * UTC)",
    ]:
        assert line in process.output


def test_a_strategy_toggled_here_runs_there_and_stops_when_stopped(scheduler_process, strategy):
    # A 1-second probe is the scheduler's clock: its runs prove time passed over there.
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)
    process = scheduler_process()

    toggled = timezone.now()
    strategy.start()
    saved = timezone.now()
    support.wait_until(
        lambda: runs_of(strategy.job_id, JobRun.SUCCEEDED).exists(), 10, "the first strategy run"
    )
    first = runs_of(strategy.job_id).order_by("started_at").first()
    # "Start immediately": the first slot is the anchor, the toggle's next whole second,
    # and the scheduler in the other process picks it up within about a second.
    assert first.scheduled_at == Schedule.objects.get(job_id=strategy.job_id).anchor
    # (the toggle spans `toggled` to `saved`: the save itself takes a moment)
    assert toggled <= first.scheduled_at <= saved + timezone.timedelta(seconds=1)
    assert (first.started_at - toggled).total_seconds() < 2.5
    support.wait_until(lambda: runs_of(strategy.job_id).count() >= 3, 10, "three runs")
    assert "1 candle judged" in first.summary  # a paper-trading run (strategies.trading)

    mark = len(process.lines)
    strategy.stop()
    process.wait_for_line(rf"Removed job {strategy.job_id}\b", timeout=5, start=mark)
    stopped_at = timezone.now()
    probes_then = ProbeRun.objects.filter(started_at__gt=stopped_at).count()
    support.wait_until(
        lambda: ProbeRun.objects.filter(started_at__gt=stopped_at).count() >= probes_then + 3,
        10,
        "three more probe slots after the stop",
    )
    late = runs_of(strategy.job_id).filter(scheduled_at__gt=stopped_at)
    assert not late.exists(), "the stopped strategy ran again"
    assert support.duplicates() == []


def test_an_interval_edit_reaches_the_running_scheduler(scheduler_process):
    schedule = Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600)
    process = scheduler_process()
    first = ProbeRun.objects.count()  # the anchor slot (now) may have run
    mark = len(process.lines)
    schedule.interval_seconds = 1
    schedule.save()
    process.wait_for_line(r"Registered job probe_1 \(every 1s\)", timeout=5, start=mark)
    support.wait_until(lambda: ProbeRun.objects.count() >= first + 2, 10, "runs every second")


def test_sigterm_stops_it_cleanly_within_a_few_seconds(scheduler_process):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)
    process = scheduler_process()
    support.wait_until(lambda: ProbeRun.objects.exists(), 10, "a probe run")
    sent = time.monotonic()
    code = process.stop(signal.SIGTERM, timeout=15)
    took = time.monotonic() - sent
    assert code == 0, process.output
    assert took < 5, f"took {took:.1f}s"
    assert process.lines[-1] == "Scheduler stopped"


def test_a_job_still_running_at_sigterm_gets_its_grace_then_is_recorded_interrupted(
    scheduler_process,
):
    Schedule.objects.create(
        job_id="probe_1", task="probe", interval_seconds=3600, kwargs={"sleep": 60}
    )
    process = scheduler_process(env=support.subprocess_env(SCHEDULER_SHUTDOWN_GRACE="1"))
    support.wait_until(lambda: ProbeRun.objects.exists(), 10, "the long run to start")
    code = process.stop(signal.SIGINT, timeout=15)
    assert code == 0, process.output
    assert "1 run(s) recorded as interrupted" in process.output
    run = JobRun.objects.get(job_id="probe_1")
    assert run.status == JobRun.INTERRUPTED
    assert run.finished_at is not None


def test_deleting_a_running_strategy_removes_its_job_at_once(scheduler_process, strategy):
    process = scheduler_process()
    strategy.start()
    process.wait_for_line(rf"Registered job {strategy.job_id} ", timeout=5)
    mark = len(process.lines)
    job_id = strategy.job_id
    strategy.delete()
    process.wait_for_line(rf"Removed job {job_id}\b", timeout=5, start=mark)
