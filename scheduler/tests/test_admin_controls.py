"""Run now, Pause and Resume as admin actions on Schedules and Strategies, each written
to admin's history with the user."""

import pytest
from django.contrib.admin.models import LogEntry

from scheduler.models import RunRequest, Schedule
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


def act(client, url, action, pks):
    return client.post(
        url, {"action": action, "_selected_action": [str(pk) for pk in pks]}, follow=True
    )


def test_schedule_actions_pause_resume_and_run_now(staff_client):
    url = "/admin/scheduler/schedule/"
    health = Schedule.objects.get(job_id="health_check")
    page = act(staff_client, url, "pause_jobs", [health.pk]).content.decode()
    assert "1 job paused." in page
    assert not Schedule.objects.get(pk=health.pk).enabled
    page = act(staff_client, url, "pause_jobs", [health.pk]).content.decode()
    assert "Job health_check is already paused." in page and "0 jobs paused." in page
    act(staff_client, url, "resume_jobs", [health.pk])
    assert Schedule.objects.get(pk=health.pk).enabled
    page = act(staff_client, url, "run_now", [health.pk]).content.decode()
    assert "1 job asked to run now." in page
    assert RunRequest.objects.get().job_id == "health_check"
    assert [e.change_message for e in LogEntry.objects.order_by("action_time")][:2] == [
        "Paused (admin)",
        "Resumed (admin)",
    ]


def test_strategy_actions_start_stop_and_run_now_are_logged(staff_client, strategy):
    url = "/admin/strategies/strategy/"
    page = act(staff_client, url, "start_strategies", [strategy.pk]).content.decode()
    assert "1 strategy started." in page
    page = act(staff_client, url, "run_strategies_now", [strategy.pk]).content.decode()
    assert "1 job asked to run now." in page
    assert RunRequest.objects.get().job_id == strategy.job_id
    act(staff_client, url, "stop_strategies", [strategy.pk])
    entries = LogEntry.objects.order_by("action_time")
    assert [e.change_message for e in entries][0] == "Started (admin)"
    assert entries.last().change_message == "Stopped (admin)"
    assert {e.user.username for e in entries} == {"staff"}
    assert {e.get_edited_object() for e in entries} == {strategy}


def test_a_non_superuser_sees_only_their_strategies_in_admin(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("owner", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_strategy"))
    Strategy.objects.create(name="Mine", owner=user)
    Strategy.objects.create(name="Someone else's")
    client.force_login(user)
    page = client.get("/admin/strategies/strategy/").content.decode()
    assert "Mine" in page and "Someone else" not in page


def test_schedule_actions_leave_other_peoples_strategies_alone(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("ops", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_schedule"))
    theirs = Strategy.objects.create(name="Theirs", is_active=True)
    schedule = Schedule.objects.get(job_id=theirs.job_id)
    client.force_login(user)
    page = act(client, "/admin/scheduler/schedule/", "pause_jobs", [schedule.pk]).content.decode()
    # Their job is not in this user's list at all, so a crafted id selects nothing.
    assert "0 jobs paused." in page
    assert theirs.job_id not in page
    theirs.refresh_from_db()
    assert theirs.is_active
