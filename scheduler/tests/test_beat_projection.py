"""Under the Celery backend, schedules are mirrored into django-celery-beat's table in the
same transaction, read-only in its admin; beat writes only its bookkeeping columns."""

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from scheduler import get_scheduler
from scheduler.backends.celery import projection as beat_projection
from scheduler.models import Schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def celery_settings(settings):
    settings.SCHEDULER_BACKEND = "celery"
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    return settings


def task(job_id):
    return PeriodicTask.objects.get(name=job_id)


def test_a_started_strategy_is_mirrored_with_its_interval_queue_and_anchor(celery_settings):
    from strategies.models import Strategy

    strategy = Strategy.objects.create(name="Trend", symbol="BTC/USDT", interval_seconds=300)
    strategy.start()
    mirrored = task(strategy.job_id)
    schedule = Schedule.objects.get(job_id=strategy.job_id)
    assert (mirrored.task, mirrored.queue, mirrored.enabled) == (
        "scheduler.run_job",
        "strategies",
        True,
    )
    assert (mirrored.interval.every, mirrored.interval.period) == (300, "seconds")
    assert mirrored.start_time == schedule.anchor
    assert beat_projection.MANAGED_NOTE in mirrored.description
    strategy.stop()
    assert task(strategy.job_id).enabled is False


def test_bulk_updates_and_deletes_are_mirrored_too(celery_settings):
    for n in (1, 2):
        Schedule.objects.create(job_id=f"probe_{n}", task="probe", interval_seconds=60)
    Schedule.objects.filter(task="probe").update(enabled=False)
    assert not PeriodicTask.objects.filter(name__startswith="probe_", enabled=True).exists()
    Schedule.objects.filter(job_id="probe_1").delete()
    assert not PeriodicTask.objects.filter(name="probe_1").exists()
    assert PeriodicTask.objects.filter(name="probe_2").exists()


def test_a_cron_schedule_is_mirrored_with_its_fields_and_zone(celery_settings):
    Schedule.objects.create(
        job_id="nightly",
        task="probe",
        kind=Schedule.CRON,
        cron_minute="30",
        cron_hour="2",
        timezone="Europe/Rome",
    )
    crontab = task("nightly").crontab
    assert (crontab.minute, crontab.hour, str(crontab.timezone)) == ("30", "2", "Europe/Rome")


def test_beat_bookkeeping_and_schedule_edits_never_overwrite_each_other(celery_settings):
    schedule = Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60)
    slot = timezone.now().replace(microsecond=0)
    beat_projection.record_sends({"probe_1": 3}, {"probe_1": slot})
    schedule.interval_seconds = 120
    schedule.save()
    mirrored = task("probe_1")
    assert (mirrored.total_run_count, mirrored.last_run_at) == (3, slot)
    assert mirrored.interval.every == 120
    beat_projection.record_sends({"probe_1": 1}, {"probe_1": slot})
    assert task("probe_1").interval.every == 120 and task("probe_1").total_run_count == 4


def test_rows_written_under_apscheduler_are_mirrored_when_beat_starts(settings):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60)
    assert not PeriodicTask.objects.filter(name="probe_1").exists()
    settings.SCHEDULER_BACKEND = "celery"
    PeriodicTask.objects.create(
        name="probe_gone", task="scheduler.run_job", interval=task_interval()
    )
    beat_projection.sync_all()
    assert set(PeriodicTask.objects.values_list("name", flat=True)) >= {"probe_1", "health_check"}
    assert not PeriodicTask.objects.filter(name="probe_gone").exists()


def task_interval():
    from django_celery_beat.models import IntervalSchedule

    return IntervalSchedule.objects.create(every=5, period=IntervalSchedule.SECONDS)


def test_the_periodic_task_admin_is_read_only_and_says_why(celery_settings, staff_client):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60)
    changelist = staff_client.get(reverse("admin:django_celery_beat_periodictask_changelist"))
    assert changelist.status_code == 200
    assert beat_projection.MANAGED_NOTE in changelist.content.decode()
    assert staff_client.get(reverse("admin:django_celery_beat_periodictask_add")).status_code == 403
    change = reverse("admin:django_celery_beat_periodictask_change", args=[task("probe_1").pk])
    response = staff_client.post(change, {"name": "renamed", "enabled": "on"})
    assert response.status_code == 403
    assert task("probe_1").name == "probe_1"


def test_get_jobs_gives_the_same_next_run_times_on_the_celery_backend(celery_settings):
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60)
    jobs = {job.id: job for job in get_scheduler().get_jobs()}
    assert jobs["probe_1"].next_run_time == Schedule.objects.get(job_id="probe_1").next_fire_time()


def test_the_web_process_never_starts_a_scheduler_on_the_celery_backend(celery_settings):
    from scheduler import backends
    from scheduler.engine import in_web

    celery_settings.SCHEDULER_AUTOSTART = True
    assert backends.autostart_in_web() is None
    assert in_web._in_web is None


def test_a_beat_start_with_the_mirror_in_step_writes_nothing(celery_settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for n in range(1, 4):
        Schedule.objects.create(job_id=f"probe_{n}", task="probe", interval_seconds=60)
    beat_projection.sync_all()  # the built-in jobs, created by `migrate` before the switch
    with CaptureQueriesContext(connection) as queries:
        beat_projection.sync_all()
    writes = [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]
    assert all(sql.startswith("DELETE") for sql in writes)  # only the stale-row sweep
    Schedule.objects.filter(job_id="probe_2").update(queue="market_data")
    assert task("probe_2").queue == "market_data"
