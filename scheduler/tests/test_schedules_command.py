"""`manage.py schedules` and the Schedules admin header: backend, lock holder, since when."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from scheduler.models import JobRun, Schedule, SchedulerState

pytestmark = pytest.mark.django_db


def test_it_lists_every_job_with_trigger_next_run_and_last_outcome(capsys):
    slot = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    JobRun.objects.create(job_id="health_check", scheduled_at=slot, status=JobRun.FAILED)
    Schedule.objects.filter(job_id="update_exchange_symbols").update(enabled=False)
    call_command("schedules")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Backend: apscheduler"
    assert lines[1] == "Scheduler lock holder: no scheduler has run yet"
    rows = {line.split()[0]: line for line in lines[3:]}
    assert set(rows) == {
        "cleanup_old_data",
        "collect_crypto_data",
        "health_check",
        "update_exchange_symbols",
    }
    assert "cron 0 3 * * * UTC" in rows["cleanup_old_data"]
    assert f"failed at {timezone.localtime(slot):%Y-%m-%d %H:%M:%S}" in rows["health_check"]
    assert "never" in rows["collect_crypto_data"]
    assert " no " in rows["update_exchange_symbols"]


def test_the_holder_is_shown_with_its_start_and_when_it_was_last_seen(capsys, staff_client):
    SchedulerState.record_holder("web-1:4242", "apscheduler")
    call_command("schedules")
    out = capsys.readouterr().out
    assert "Backend: apscheduler" in out
    assert "Scheduler lock holder: web-1:4242 since " in out
    assert "last seen 0s ago" in out
    page = staff_client.get(reverse("admin:scheduler_schedule_changelist")).content.decode()
    assert "Backend: <strong>apscheduler</strong>" in page
    assert "web-1:4242 since" in page
    SchedulerState.record_holder("worker-1:99", "celery")
    call_command("schedules")
    assert "Backend: apscheduler (the last scheduler to run used celery)" in capsys.readouterr().out
