"""`/jobs/` and `/jobs/<job id>/`: what a user sees, who may press the buttons, and a
constant number of queries however many schedules and runs there are."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from scheduler.models import JobHealth, JobRun, RunRequest, Schedule, SchedulerState

pytestmark = pytest.mark.django_db


def make_runs(job_id, count, status=JobRun.SUCCEEDED, start=None, step=60):
    start = start or timezone.now() - timedelta(seconds=step * count)
    JobRun.objects.bulk_create(
        JobRun(
            job_id=job_id,
            scheduled_at=start + timedelta(seconds=step * i),
            started_at=start + timedelta(seconds=step * i),
            finished_at=start + timedelta(seconds=step * i, milliseconds=250 + i),
            status=status,
            summary=f"run {i}",
        )
        for i in range(count)
    )


@pytest.fixture
def viewer(client, django_user_model):
    """Logged in, not staff."""
    client.force_login(django_user_model.objects.create_user("viewer", password="pw-tests-only"))
    return client


def test_anonymous_users_are_sent_to_the_login_page(client):
    for url in ["/jobs/", "/jobs/health_check/"]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_the_list_shows_each_job_with_trigger_state_next_and_last_run(staff_client):
    make_runs("health_check", 3)
    JobRun.objects.create(
        job_id="collect_crypto_data",
        scheduled_at=timezone.now() - timedelta(minutes=1),
        status=JobRun.FAILED,
        summary="boom",
    )
    Schedule.objects.filter(job_id="cleanup_old_data").update(enabled=False)
    SchedulerState.record_holder("web1:42", "apscheduler")
    page = staff_client.get("/jobs/").content.decode()
    assert "Backend: apscheduler" in page and "web1:42" in page
    assert 'http-equiv="refresh"' in page
    health = page[page.index('data-job="health_check"') :]
    health = health[: health.index("</tr>")]
    assert "every 1h" in health and "succeeded" in health and "state-ok" in health
    assert '<td class="runs-24h">3</td>' in health
    cleanup = page[page.index('data-job="cleanup_old_data"') :]
    assert "state-paused" in cleanup[: cleanup.index("</tr>")]
    assert "4 jobs" in page


def test_the_list_filters_by_state_and_searches_by_prefix(staff_client):
    JobHealth.objects.create(job_id="health_check", state=JobHealth.FAILING, failures_in_a_row=3)
    JobHealth.objects.create(job_id="collect_crypto_data", state=JobHealth.LATE)
    Schedule.objects.filter(job_id="cleanup_old_data").update(enabled=False)

    def listed(query):
        page = staff_client.get("/jobs/" + query).content.decode()
        return sorted(part.split('"')[0] for part in page.split('data-job="')[1:])

    assert listed("?state=failing") == ["health_check"]
    assert listed("?state=late") == ["collect_crypto_data"]
    assert listed("?state=paused") == ["cleanup_old_data"]
    assert listed("?state=ok") == ["update_exchange_symbols"]
    assert listed("?q=cl") == ["cleanup_old_data"]
    assert listed("?q=update_") == ["update_exchange_symbols"]
    assert listed("?q=nothing") == []


def test_the_list_is_paginated_by_a_hundred(staff_client):
    Schedule.objects.bulk_create(
        Schedule(job_id=f"probe_{i:03}", task="probe", interval_seconds=60) for i in range(150)
    )
    first = staff_client.get("/jobs/").content.decode()
    assert first.count('data-job="') == 100 and "page 1 of 2" in first
    second = staff_client.get("/jobs/?page=2").content.decode()
    assert second.count('data-job="') == 54


def test_the_detail_page_shows_history_timeline_tracebacks_and_next_fire_times(staff_client):
    make_runs("health_check", 120)
    JobRun.objects.create(
        job_id="health_check",
        scheduled_at=timezone.now(),
        started_at=timezone.now(),
        finished_at=timezone.now(),
        status=JobRun.FAILED,
        summary="ValueError: bad",
        traceback="Traceback (most recent call last):\nValueError: bad",
    )
    page = staff_client.get("/jobs/health_check/").content.decode()
    assert "121 runs" in page and "page 1 of 3" in page
    assert page.count('<rect x="') == 100  # the last 100 runs, on the timeline
    assert 'fill="#c62828"' in page  # the failure, in red
    assert "Traceback (most recent call last)" in page
    upcoming = page[page.index('id="upcoming"') :]
    assert upcoming[: upcoming.index("</ol>")].count("<li>") == 5
    assert "Run now" in page and "Pause" in page


def test_the_next_fire_times_show_a_daylight_saving_shift(staff_client):
    schedule = Schedule.objects.create(
        job_id="paris_morning",
        task="probe",
        kind=Schedule.CRON,
        cron_minute="0",
        cron_hour="9",
        timezone="Europe/Paris",
    )
    # Two days before the spring change (29 March 2026).
    with time_machine.travel(datetime(2026, 3, 27, 12, tzinfo=UTC), tick=False):
        page = staff_client.get(f"/jobs/{schedule.job_id}/").content.decode()
    upcoming = page[page.index('id="upcoming"') :]
    upcoming = upcoming[: upcoming.index("</ol>")]
    assert "2026-03-28 09:00:00 CET (+0100)" in upcoming
    assert "2026-03-29 09:00:00 CEST (+0200)" in upcoming


def test_an_unknown_job_is_a_404(staff_client):
    assert staff_client.get("/jobs/nope/").status_code == 404


def test_non_staff_see_the_pages_but_no_buttons_and_cannot_post(viewer):
    page = viewer.get("/jobs/health_check/").content.decode()
    assert "Run now" not in page
    for action in ["run-now", "pause", "resume"]:
        assert viewer.post(f"/jobs/health_check/{action}").status_code == 403
    assert not RunRequest.objects.exists()
    assert Schedule.objects.get(job_id="health_check").enabled


def test_the_buttons_need_post(staff_client):
    assert staff_client.get("/jobs/health_check/pause").status_code == 405


def test_the_buttons_need_the_csrf_token(django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("boss", "", "pw-tests-only"))
    page = client.get("/jobs/health_check/").content.decode()
    assert client.post("/jobs/health_check/pause").status_code == 403
    assert Schedule.objects.get(job_id="health_check").enabled
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    response = client.post("/jobs/health_check/pause", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert not Schedule.objects.get(job_id="health_check").enabled


def test_pause_resume_and_run_now_are_handed_to_the_scheduler_and_logged(staff_client):
    before = SchedulerState.current()
    response = staff_client.post("/jobs/health_check/pause", follow=True)
    assert "Job health_check paused." in response.content.decode()
    assert not Schedule.objects.get(job_id="health_check").enabled
    assert SchedulerState.current() > before

    response = staff_client.post("/jobs/health_check/run-now", follow=True)
    assert "paused; resume it first" in response.content.decode()
    assert not RunRequest.objects.exists()

    staff_client.post("/jobs/health_check/resume")
    assert Schedule.objects.get(job_id="health_check").enabled
    before = SchedulerState.current()
    response = staff_client.post("/jobs/health_check/run-now", follow=True)
    assert "will run now" in response.content.decode()
    request = RunRequest.objects.get()
    assert request.job_id == "health_check" and request.handed_at is None
    assert request.requested_by.username == "staff"
    assert SchedulerState.current() > before
    assert not JobRun.objects.filter(job_id="health_check").exists()  # not in the request

    messages = list(
        LogEntry.objects.order_by("action_time").values_list("change_message", flat=True)
    )
    assert messages[0] == "Paused (status page)"
    assert messages[1] == "Resumed (status page)"
    assert messages[2].startswith("Run now requested (status page)")


def test_a_strategy_job_is_paused_and_resumed_through_its_strategy(staff_client, strategy):
    strategy.start()
    staff_client.post(f"/jobs/{strategy.job_id}/pause")
    strategy.refresh_from_db()
    assert not strategy.is_active
    staff_client.post(f"/jobs/{strategy.job_id}/resume")
    strategy.refresh_from_db()
    assert strategy.is_active
    entry = LogEntry.objects.order_by("-action_time").first()
    assert entry.get_edited_object() == strategy and entry.change_message == "Started (status page)"


def test_other_peoples_strategies_are_hidden_from_non_superusers(client, django_user_model):
    from strategies.models import Strategy

    owner = django_user_model.objects.create_user("owner", password="pw", is_staff=True)
    other = django_user_model.objects.create_user("other", password="pw", is_staff=True)
    change = Permission.objects.get(codename="change_strategy")
    other.user_permissions.add(change)
    mine = Strategy.objects.create(name="Mine", owner=owner, is_active=True)
    client.force_login(other)
    assert mine.job_id not in client.get("/jobs/").content.decode()
    assert client.get(f"/jobs/{mine.job_id}/").status_code == 404
    assert client.post(f"/jobs/{mine.job_id}/pause").status_code == 404
    mine.refresh_from_db()
    assert mine.is_active


def test_the_list_costs_the_same_queries_with_many_schedules_and_runs(
    staff_client, django_assert_max_num_queries
):
    def load(prefix, count):
        Schedule.objects.bulk_create(
            Schedule(job_id=f"{prefix}_{i:03}", task="probe", interval_seconds=60)
            for i in range(count)
        )
        for i in range(0, count, 10):
            make_runs(f"{prefix}_{i:03}", 20)

    load("a", 5)
    # 11 with the outage watch's look (`web/outage.py`: at most every 5 s per process).
    with django_assert_max_num_queries(11) as few:
        assert staff_client.get("/jobs/").status_code == 200
    load("b", 150)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff_client.get("/jobs/").status_code == 200
    with django_assert_max_num_queries(len(few.captured_queries) + 1):
        assert staff_client.get("/jobs/?state=ok&q=b").status_code == 200


def test_the_detail_costs_the_same_queries_with_many_runs(
    staff_client, django_assert_max_num_queries
):
    make_runs("health_check", 5)
    with django_assert_max_num_queries(13) as few:  # the outage watch's look included
        assert staff_client.get("/jobs/health_check/").status_code == 200
    make_runs("health_check", 500, start=timezone.now() - timedelta(days=3))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert staff_client.get("/jobs/health_check/?page=3").status_code == 200


def test_a_non_staff_user_logs_in_on_the_pages_own_login(client, django_user_model):
    django_user_model.objects.create_user("viewer", password="pw-tests-only")
    page = client.get("/accounts/login/?next=/jobs/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    response = client.post(
        "/accounts/login/", {"username": "viewer", "password": "pw-tests-only", "next": "/jobs/"}
    )
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    page = client.get("/jobs/").content.decode()
    assert "health_check" in page and ">Admin<" not in page


def test_times_under_a_minute_read_in_seconds(staff_client):
    from datetime import timedelta

    from django.utils import timezone

    from scheduler.templatetags.moments import ago, until

    now = timezone.now()
    assert ago(now - timedelta(seconds=12)) == "12 s ago"
    assert until(now + timedelta(seconds=42.4)).startswith("in 4")
    assert until(now - timedelta(seconds=3)) == "due now"
    assert ago(now - timedelta(minutes=5)) == "5\xa0minutes ago"
