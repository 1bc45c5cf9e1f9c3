"""The guide's Python API: `from scheduler import add_strategy_job, ...`."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler import add_strategy_job, get_scheduler, remove_strategy_job, update_strategy_job
from scheduler.models import Schedule, SchedulerState

pytestmark = pytest.mark.django_db


def test_add_strategy_job_is_the_same_as_pressing_start(strategy):
    job = add_strategy_job(strategy_id=strategy.pk, interval_seconds=300, start_immediately=True)
    strategy.refresh_from_db()
    assert strategy.is_active and strategy.interval_seconds == 300
    assert job.id == f"strategy_{strategy.pk}"
    schedule = Schedule.objects.get(job_id=job.id)
    assert (schedule.enabled, schedule.interval_seconds, schedule.max_running) == (True, 300, 1)
    assert schedule.queue == "strategies" and schedule.max_attempts == 1
    # Starting immediately: the first run is due now.
    assert abs((job.next_run_time - timezone.now()).total_seconds()) <= 1


def test_without_start_immediately_the_first_run_is_one_interval_later(strategy):
    job = add_strategy_job(strategy_id=strategy.pk, interval_seconds=300, start_immediately=False)
    wait = (job.next_run_time - timezone.now()).total_seconds()
    assert 299 <= wait <= 301


def test_get_jobs_lists_ids_and_next_run_times_from_the_rows(strategy):
    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    jobs = get_scheduler().get_jobs()
    ids = [j.id for j in jobs]
    assert f"strategy_{strategy.pk}" in ids and "collect_crypto_data" in ids
    assert all(j.next_run_time is not None for j in jobs)
    assert [j.next_run_time for j in jobs] == sorted(j.next_run_time for j in jobs)


def test_update_changes_the_interval_and_reanchors_at_the_edit(strategy):
    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    job = update_strategy_job(strategy_id=strategy.pk, interval_seconds=600)
    schedule = Schedule.objects.get(job_id=job.id)
    assert schedule.interval_seconds == 600
    assert abs((schedule.anchor - timezone.now()).total_seconds() - 600) <= 1
    assert job.next_run_time == schedule.anchor


def test_an_unchanged_restart_keeps_the_grid(strategy):
    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    anchor = Schedule.objects.get(job_id=strategy.job_id).anchor
    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    assert Schedule.objects.get(job_id=strategy.job_id).anchor == anchor


def test_remove_is_the_same_as_pressing_stop_and_keeps_the_row(strategy):
    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    remove_strategy_job(strategy_id=strategy.pk)
    strategy.refresh_from_db()
    assert not strategy.is_active
    assert not Schedule.objects.get(job_id=strategy.job_id).enabled
    assert strategy.job_id not in [j.id for j in get_scheduler().get_jobs()]


@pytest.mark.parametrize("interval", [0, -5, 31 * 86400 + 1])
def test_a_bad_interval_raises_valueerror_and_changes_nothing(strategy, interval):
    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    before = SchedulerState.current()
    with pytest.raises(ValueError, match="interval_seconds"):
        update_strategy_job(strategy_id=strategy.pk, interval_seconds=interval)
    with pytest.raises(ValueError, match="interval_seconds"):
        add_strategy_job(strategy_id=strategy.pk, interval_seconds=interval)
    assert Schedule.objects.get(job_id=strategy.job_id).interval_seconds == 60
    strategy.refresh_from_db()
    assert strategy.interval_seconds == 60
    assert SchedulerState.current() == before


def test_an_unknown_strategy_raises_valueerror():
    with pytest.raises(ValueError, match="strategy 999 does not exist"):
        add_strategy_job(strategy_id=999, interval_seconds=60)
    with pytest.raises(ValueError, match="does not exist"):
        remove_strategy_job(strategy_id="abc")


def test_the_package_imports_without_loading_models():
    import subprocess
    import sys

    code = "import scheduler, sys; assert 'scheduler.models' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "ok", out.stderr


def test_next_run_time_is_the_slot_after_the_last_recorded_run(strategy):
    from scheduler.models import JobRun

    add_strategy_job(strategy_id=strategy.pk, interval_seconds=60)
    schedule = Schedule.objects.get(job_id=strategy.job_id)
    JobRun.objects.create(job_id=schedule.job_id, scheduled_at=schedule.anchor, status="succeeded")
    job = get_scheduler().get_job(schedule.job_id)
    assert job.next_run_time == schedule.anchor + timedelta(seconds=60)
