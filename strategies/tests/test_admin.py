"""Starting and stopping strategies in Django admin, through the test client."""

import pytest
from django.urls import reverse

from scheduler.models import Schedule, SchedulerState
from strategies.models import Strategy

pytestmark = pytest.mark.django_db


def changelist():
    return reverse("admin:strategies_strategy_changelist")


def test_start_action_creates_and_enables_the_strategy_job(staff_client, strategy):
    response = staff_client.post(
        changelist(), {"action": "start_strategies", "_selected_action": [strategy.pk]}, follow=True
    )
    assert "1 strategy started." in response.content.decode()
    strategy.refresh_from_db()
    assert strategy.is_active
    schedule = Schedule.objects.get(job_id=f"strategy_{strategy.pk}")
    assert schedule.enabled and schedule.interval_seconds == strategy.interval_seconds


def test_stop_action_disables_the_job(staff_client, strategy):
    strategy.start()
    before = SchedulerState.current()
    response = staff_client.post(
        changelist(), {"action": "stop_strategies", "_selected_action": [strategy.pk]}, follow=True
    )
    assert "1 strategy stopped." in response.content.decode()
    assert not Schedule.objects.get(job_id=strategy.job_id).enabled
    assert SchedulerState.current() > before


def test_starting_an_already_active_strategy_counts_nothing(staff_client, strategy):
    strategy.start()
    response = staff_client.post(
        changelist(), {"action": "start_strategies", "_selected_action": [strategy.pk]}, follow=True
    )
    assert "0 strategies started." in response.content.decode()


def test_the_active_checkbox_in_the_list_starts_and_stops(staff_client, strategy):
    def post_list(active: bool):
        data = {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(strategy.pk),
            "_save": "Save",
        }
        if active:
            data["form-0-is_active"] = "on"
        return staff_client.post(changelist(), data)

    assert post_list(True).status_code == 302
    assert Schedule.objects.get(job_id=strategy.job_id).enabled
    assert post_list(False).status_code == 302
    assert not Schedule.objects.get(job_id=strategy.job_id).enabled


def test_a_bad_interval_in_the_form_shows_an_error_and_saves_nothing(staff_client, strategy):
    strategy.start()
    url = reverse("admin:strategies_strategy_change", args=[strategy.pk])
    response = staff_client.post(
        url,
        {
            "name": "Trend",
            "symbol": "BTC/USDT",
            "timeframe": "1h",
            "interval_seconds": "0",
            "is_active": "on",
            "start_immediately": "on",
        },
    )
    assert response.status_code == 200
    assert "interval_seconds" in response.context["adminform"].form.errors
    assert Strategy.objects.get(pk=strategy.pk).interval_seconds == 1
    assert Schedule.objects.get(job_id=strategy.job_id).interval_seconds == 1


def test_deleting_strategies_in_admin_removes_their_jobs(staff_client, strategy):
    strategy.start()
    other = Strategy.objects.create(name="Other", interval_seconds=60)
    other.start()
    response = staff_client.post(
        changelist(),
        {"action": "delete_selected", "_selected_action": [strategy.pk, other.pk], "post": "yes"},
        follow=True,
    )
    assert "Successfully deleted 2 strategies" in response.content.decode()
    assert not Schedule.objects.filter(job_id__startswith="strategy_").exists()


def test_deleting_one_strategy_removes_its_job(strategy):
    strategy.start()
    strategy.delete()
    assert not Schedule.objects.filter(job_id=f"strategy_{strategy.pk}").exists()


def test_start_gives_an_active_strategy_back_a_job_disabled_elsewhere(strategy):
    strategy.start()
    Schedule.objects.filter(job_id=strategy.job_id).update(enabled=False)
    assert strategy.start() is False
    assert Schedule.objects.get(job_id=strategy.job_id).enabled
