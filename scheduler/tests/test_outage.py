"""A dead scheduler is seen by whoever looks: jobs turn late at read time, every status
page and admin's Schedules list say no scheduler runs, and the admins get one mail per
outage from the first web request that notices."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from scheduler.models import JobRun, Schedule, SchedulerState
from scheduler.web import outage

pytestmark = pytest.mark.django_db


def job_row(page: str, job_id: str) -> str:
    row = page[page.index(f'data-job="{job_id}"') :]
    return row[: row.index("</tr>")]


def test_a_slot_past_its_grace_shows_late_with_no_scheduler_to_mark_it(staff_client):
    """The stored health still says nothing: the page judges from the timing and the
    newest recorded slot, as the scheduler's own look does."""
    past = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    Schedule.objects.create(
        job_id="every_minute", task="health_check", interval_seconds=60, anchor=past
    )
    Schedule.objects.filter(job_id="every_minute").update(enabled_at=past)
    row = job_row(staff_client.get("/jobs/").content.decode(), "every_minute")
    assert "state-late" in row and "not run" in row
    api = {job["id"]: job for job in staff_client.get("/api/v1/jobs").json()["jobs"]}
    assert api["every_minute"]["state"] == "late"
    assert api["every_minute"]["state_reason"].endswith("late (grace 60s)")
    # Its newest slot recorded: ok again, without any scheduler.
    JobRun.objects.create(
        job_id="every_minute",
        scheduled_at=timezone.now().replace(microsecond=0, second=0),
        status=JobRun.SUCCEEDED,
    )
    row = job_row(staff_client.get("/jobs/").content.decode(), "every_minute")
    assert "state-ok" in row


def test_every_status_page_and_the_schedules_list_say_when_no_scheduler_runs(staff_client):
    for url in ("/jobs/", "/jobs/health_check/", "/admin/scheduler/schedule/"):
        page = staff_client.get(url).content.decode()
        assert 'id="no-scheduler"' in page and "No scheduler is running" in page, url
        assert "manage.py runscheduler" in page
    SchedulerState.record_holder("web-1:7", "apscheduler")
    for url in ("/jobs/", "/admin/scheduler/schedule/"):
        assert 'id="no-scheduler"' not in staff_client.get(url).content.decode()
    # A new holder's first health period: its stored states are still being rechecked.
    assert "is catching up" in staff_client.get("/jobs/").content.decode()
    SchedulerState.objects.update(holder_since=timezone.now() - timedelta(minutes=5))
    assert "is catching up" not in staff_client.get("/jobs/").content.decode()
    SchedulerState.objects.update(holder_seen_at=timezone.now() - timedelta(minutes=2))
    page = staff_client.get("/jobs/").content.decode()
    assert "No scheduler is running (the last one was seen at" in page


def test_an_outage_is_mailed_once_by_the_first_request_that_notices(settings, mailoutbox):
    settings.ADMINS = [("Ops", "ops@example.com")]
    SchedulerState.record_holder("web-1:7", "apscheduler")
    Client().get("/healthz")  # a live scheduler: no mail
    assert mailoutbox == []
    SchedulerState.objects.update(holder_seen_at=timezone.now() - timedelta(minutes=2))
    # An uptime monitor's probe is enough; its 503s are answers, never mailed themselves.
    assert Client().get("/healthz").status_code == 503
    assert Client().get("/healthz").status_code == 503
    assert [mail.subject for mail in mailoutbox] == ["[Django] No scheduler is running"]
    assert "manage.py runscheduler" in mailoutbox[0].body
    # Every other process, and every later look, finds the outage claimed.
    Client().get("/accounts/login/")
    assert outage.notice() is False
    assert len(mailoutbox) == 1
    # A new scheduler runs, then dies too: that is a new outage, and one more mail.
    SchedulerState.record_holder("web-2:8", "apscheduler")
    assert outage.notice() is False
    SchedulerState.objects.update(holder_seen_at=timezone.now() - timedelta(minutes=1))
    assert outage.notice() is True
    assert len(mailoutbox) == 2


def test_a_fresh_hub_with_no_scheduler_yet_is_not_an_outage(settings, mailoutbox):
    settings.ADMINS = [("Ops", "ops@example.com")]
    Client().get("/healthz")
    assert outage.notice() is False and mailoutbox == []
