"""Schedules and job runs in Django admin, through the test client."""

import pytest
from django.urls import reverse

from scheduler.models import JobRun, Schedule, SchedulerState

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "job_id": "my_job",
        "description": "",
        "task": "probe",
        "kwargs": "{}",
        "enabled": "on",
        "kind": "interval",
        "interval_seconds": "60",
        "timezone": "",
        "cron_minute": "*",
        "cron_hour": "*",
        "cron_day_of_month": "*",
        "cron_month": "*",
        "cron_day_of_week": "*",
        "timeout_seconds": "600",
        "misfire_grace_seconds": "60",
        "max_attempts": "1",
        "retry_backoff_seconds": "10",
        "queue": "default",
        "max_running": "3",
    }
    data.update(overrides)
    return data


def test_the_list_shows_the_builtin_jobs_with_their_triggers(staff_client):
    page = staff_client.get(reverse("admin:scheduler_schedule_changelist")).content.decode()
    for text in [
        "collect_crypto_data",
        "every 10m",
        "cleanup_old_data",
        "cron 0 3 * * * UTC",
        "health_check",
        "every 1h",
        "update_exchange_symbols",
        "cron 0 1 * * * UTC",
    ]:
        assert text in page


def test_a_valid_schedule_is_saved_and_the_scheduler_notified(staff_client):
    before = SchedulerState.current()
    response = staff_client.post(reverse("admin:scheduler_schedule_add"), form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get(job_id="my_job")
    assert schedule.interval_seconds == 60 and schedule.anchor is not None
    assert SchedulerState.current() > before


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"interval_seconds": "0"}, "interval_seconds", "greater than or equal to 1"),
        ({"interval_seconds": str(31 * 86400 + 1)}, "interval_seconds", "less than or equal to"),
        ({"kind": "cron", "cron_hour": "25"}, "cron_hour", "out of range 0-23"),
        ({"kind": "cron", "cron_minute": "*/0"}, "cron_minute", "bad step"),
        ({"kind": "cron", "cron_day_of_week": "funday"}, "cron_day_of_week", "not a valid"),
        ({"task": "os.system"}, "task", "Select a valid choice"),
        ({"kwargs": '{"nope": 1}'}, "kwargs", "does not take 'nope' (it takes: sleep"),
        ({"kwargs": "[1, 2]"}, "kwargs", "must be a JSON object"),
        ({"timeout_seconds": "0"}, "timeout_seconds", "greater than or equal to 1"),
        ({"timeout_seconds": "-5"}, "timeout_seconds", "greater than or equal to"),
        ({"kind": "cron", "timezone": "Mars/Base"}, "timezone", "Unknown time zone"),
        ({"queue": "celery"}, "queue", "Select a valid choice"),
        ({"max_attempts": "0"}, "max_attempts", "greater than or equal to 1"),
        ({"retry_backoff_seconds": "0"}, "retry_backoff_seconds", "greater than or equal to 1"),
    ],
)
def test_bad_input_shows_an_error_on_the_field_and_saves_nothing(
    staff_client, overrides, field, message
):
    before = SchedulerState.current()
    response = staff_client.post(reverse("admin:scheduler_schedule_add"), form_data(**overrides))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message.lower() in " ".join(errors[field]).lower()
    assert not Schedule.objects.filter(job_id="my_job").exists()
    assert SchedulerState.current() == before


def test_editing_a_builtin_interval_reanchors_it_at_the_edit(staff_client):
    schedule = Schedule.objects.get(job_id="collect_crypto_data")
    old_anchor = schedule.anchor
    url = reverse("admin:scheduler_schedule_change", args=[schedule.pk])
    data = form_data(
        job_id="collect_crypto_data",
        task="collect_crypto_data",
        interval_seconds="300",
        max_attempts="3",
        queue="market_data",
    )
    response = staff_client.post(url, data)
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.interval_seconds == 300
    assert schedule.anchor > old_anchor


def test_bulk_pause_notifies_the_scheduler_and_is_in_the_admin_history(staff_client):
    from django.contrib.admin.models import LogEntry

    before = SchedulerState.current()
    ids = list(Schedule.objects.values_list("pk", flat=True))
    staff_client.post(
        reverse("admin:scheduler_schedule_changelist"),
        {"action": "pause_jobs", "_selected_action": ids},
        follow=True,
    )
    assert not Schedule.objects.filter(enabled=True).exists()
    assert SchedulerState.current() > before
    assert LogEntry.objects.count() == len(ids)


def test_job_runs_are_read_only_filterable_and_newest_first(staff_client):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    JobRun.objects.create(
        job_id="health_check",
        scheduled_at=now - timedelta(hours=1),
        status=JobRun.SUCCEEDED,
        summary="older one",
    )
    JobRun.objects.create(
        job_id="health_check",
        scheduled_at=now,
        status=JobRun.FAILED,
        summary="newer one",
        traceback="Traceback: boom",
    )
    url = reverse("admin:scheduler_jobrun_changelist")
    page = staff_client.get(url).content.decode()
    assert page.index("newer one") < page.index("older one")
    filtered = staff_client.get(url, {"status__exact": "failed"}).content.decode()
    assert "newer one" in filtered and "older one" not in filtered
    assert staff_client.get(reverse("admin:scheduler_jobrun_add")).status_code == 403
    run = JobRun.objects.get(summary="newer one")
    detail = staff_client.get(reverse("admin:scheduler_jobrun_change", args=[run.pk]))
    assert detail.status_code == 200
    assert "Traceback: boom" in detail.content.decode()
    assert 'name="_save"' not in detail.content.decode()


def test_django_apschedulers_own_admin_is_not_offered(staff_client):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "django_apscheduler" not in page
    assert "Django job executions" not in page


def test_a_strategys_job_is_started_and_stopped_only_through_its_strategy(staff_client, strategy):
    strategy.start()
    schedule = Schedule.objects.get(job_id=strategy.job_id)
    page = staff_client.get(reverse("admin:scheduler_schedule_change", args=[schedule.pk]))
    form_fields = page.context["adminform"].form.fields
    for field in ("job_id", "enabled", "interval_seconds", "task", "kwargs"):
        assert field not in form_fields
    actions = (
        staff_client.get(reverse("admin:scheduler_schedule_changelist"))
        .context["action_form"]
        .fields["action"]
        .choices
    )
    names = [name for name, _ in actions]
    assert "pause_jobs" in names and "disable_schedules" not in names


def test_the_runs_list_reads_at_a_glance(staff_client):
    """Times to the second, coloured statuses, the summary shortened (whole on its page)."""
    from datetime import UTC, datetime

    from scheduler.models import JobRun

    slot = datetime(2026, 3, 1, 12, 0, 15, tzinfo=UTC)
    run = JobRun.objects.create(
        job_id="health_check",
        scheduled_at=slot,
        started_at=slot,
        finished_at=slot,
        status=JobRun.FAILED,
        summary="x" * 300,
    )
    page = staff_client.get("/admin/scheduler/jobrun/").content.decode()
    assert "2026-03-01 12:00:15" in page
    assert '<span class="run-status run-status-failed">failed</span>' in page
    assert "x" * 119 + "…" in page and "x" * 121 not in page
    assert "scheduler/admin.css" in page
    detail = staff_client.get(f"/admin/scheduler/jobrun/{run.pk}/change/").content.decode()
    assert "x" * 300 in detail
