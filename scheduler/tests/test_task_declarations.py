"""Tasks declare their arguments and their audience (`registry.TASKS`): a schedule's
arguments are checked against the declaration wherever it is saved, again when an engine
registers it, and a diagnostic task exists only where SCHEDULER_DIAGNOSTIC_TASKS is on."""

import logging

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from scheduler import registry
from scheduler.backends.apscheduler import APSchedulerBackend
from scheduler.execution import run_job
from scheduler.models import JobRun, ProbeRun, Schedule, SchedulerState
from scheduler.tests.test_admin import form_data
from strategies.models import PaperAccount, Strategy

pytestmark = pytest.mark.django_db

ADD = reverse("admin:scheduler_schedule_add")


def cleanup_schedule() -> Schedule:
    return Schedule.objects.get(job_id="cleanup_old_data")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"retention_days": 0}, "retention_days must be an integer from 1 to 3650, not 0"),
        ({"retention_days": -1}, "retention_days must be an integer from 1 to 3650, not -1"),
        ({"retention_days": 3651}, "retention_days must be an integer from 1 to 3650, not 3651"),
        ({"retention_days": 99999999999}, "retention_days must be an integer from 1 to 3650"),
        ({"retention_days": "abc"}, "retention_days must be an integer from 1 to 3650"),
        ({"retention_days": 1.5}, "retention_days must be an integer from 1 to 3650"),
        ({"retention_days": True}, "retention_days must be an integer from 1 to 3650"),
        ({"retention_days": None}, "retention_days must be an integer from 1 to 3650"),
        ({"retention_days": {"days": 1}}, "retention_days must be an integer from 1 to 3650"),
        ({"retention_days": [30]}, "retention_days must be an integer from 1 to 3650"),
        ({"days": 30}, "cleanup_old_data does not take 'days' (it takes: retention_days)"),
        ({"job_id": "x"}, "cleanup_old_data does not take 'job_id'"),
    ],
)
def test_each_bound_and_type_is_refused_on_the_admin_form_naming_the_argument(
    staff_client, kwargs, message
):
    import json

    schedule = cleanup_schedule()
    before = (SchedulerState.current(), schedule.kwargs)
    url = reverse("admin:scheduler_schedule_change", args=[schedule.pk])
    data = form_data(job_id="cleanup_old_data", task="cleanup_old_data", kwargs=json.dumps(kwargs))
    response = staff_client.post(url, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message.lower() in " ".join(errors["kwargs"]).lower()
    schedule.refresh_from_db()
    assert (SchedulerState.current(), schedule.kwargs) == before


def test_a_valid_change_is_saved(staff_client):
    schedule = cleanup_schedule()
    url = reverse("admin:scheduler_schedule_change", args=[schedule.pk])
    data = form_data(
        job_id="cleanup_old_data",
        task="cleanup_old_data",
        kwargs='{"retention_days": 30}',
        kind="cron",
        cron_minute="0",
        cron_hour="3",
    )
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    schedule.refresh_from_db()
    assert schedule.kwargs == {"retention_days": 30}


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"sleep": NaN}', "nan"),
        ('{"sleep": Infinity}', "infinity"),
        ('{"sleep": 1e400}', ""),
        ('{"sleep": ' + "[" * 500 + "]" * 500 + "}", "nest"),
        ('{"\\u0000": 1}', "does not take"),
        ('{"sleep": "\\u0000"}', "sleep must be a number"),
        ('{"sleep": 99999}', "sleep must be a number from 0 to 3600"),
    ],
)
def test_hostile_json_is_refused_on_the_field(staff_client, text, message):
    response = staff_client.post(ADD, form_data(kwargs=text))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors["kwargs"]).lower()
    assert message in errors
    assert not Schedule.objects.filter(job_id="my_job").exists()


def test_the_model_refuses_a_bad_argument_whoever_saves_it():
    """The API and `manage.py` save through `full_clean`, as admin does."""
    schedule = Schedule(
        job_id="mine", task="cleanup_old_data", kind="cron", kwargs={"retention_days": -1}
    )
    with pytest.raises(ValidationError) as caught:
        schedule.full_clean()
    assert caught.value.message_dict["kwargs"] == [
        "Retention_days must be an integer from 1 to 3650, not -1."
    ]


def test_a_hand_made_schedule_cannot_take_a_strategy_job_id_or_task(staff_client):
    response = staff_client.post(ADD, form_data(job_id="strategy_77"))
    errors = response.context["adminform"].form.errors
    assert "belong to strategies" in " ".join(errors["job_id"])
    response = staff_client.post(ADD, form_data(task="run_strategy", kwargs='{"strategy_id": 1}'))
    assert "Select a valid choice" in " ".join(response.context["adminform"].form.errors["task"])
    assert not Schedule.objects.filter(job_id__in=["strategy_77", "my_job"]).exists()


def test_starting_a_strategy_resets_a_tampered_job_row(caplog):
    owner_a = Strategy.objects.create(name="A's", symbol="BTC/USDT")
    mine = Strategy.objects.create(name="Mine", symbol="BTC/USDT")
    # A row written behind the forms' back, ahead of the strategy's start.
    Schedule.objects.bulk_create(
        [
            Schedule(
                job_id=mine.job_id,
                task="run_strategy",
                kwargs={"strategy_id": owner_a.pk},
                interval_seconds=60,
                enabled=False,
            )
        ]
    )
    with caplog.at_level(logging.WARNING):
        mine.start()
    schedule = Schedule.objects.get(job_id=mine.job_id)
    assert schedule.kwargs == {"strategy_id": mine.pk}
    assert f"Job {mine.job_id} ran task run_strategy with {{'strategy_id': {owner_a.pk}}}" in (
        caplog.text
    )


def test_run_strategy_refuses_to_run_another_strategy_under_its_job_id():
    victim = Strategy.objects.create(name="Victim", symbol="BTC/USDT")
    Schedule.objects.bulk_create(
        [
            Schedule(
                job_id="strategy_999",
                task="run_strategy",
                kwargs={"strategy_id": victim.pk},
                interval_seconds=60,
            )
        ]
    )
    assert run_job("strategy_999") == JobRun.FAILED
    run = JobRun.objects.get(job_id="strategy_999")
    assert f"job strategy_999 may not run strategy {victim.pk}" in run.summary
    assert not PaperAccount.objects.filter(strategy=victim).exists()


@pytest.fixture
def production(settings):
    settings.SCHEDULER_DIAGNOSTIC_TASKS = False


def test_probe_is_not_offered_in_production(production, staff_client):
    assert "probe" not in dict(registry.task_choices())
    response = staff_client.post(ADD, form_data(task="probe"))
    assert "Select a valid choice" in " ".join(response.context["adminform"].form.errors["task"])
    with pytest.raises(ValidationError, match="Unknown task 'probe'"):
        Schedule(job_id="p", task="probe", interval_seconds=1).full_clean()


def test_manage_probe_refuses_in_production_with_one_line(production):
    with pytest.raises(CommandError, match=r"^probe is a diagnostic task, offered only with"):
        call_command("probe", "--count", "1")
    assert not Schedule.objects.filter(task="probe").exists()


def test_run_job_and_the_engine_refuse_a_probe_row_in_production(production, caplog):
    Schedule.objects.bulk_create([Schedule(job_id="probe_1", task="probe", interval_seconds=1)])
    assert run_job("probe_1") == JobRun.FAILED
    assert "unknown task 'probe'" in JobRun.objects.get(job_id="probe_1").summary
    assert not ProbeRun.objects.exists()
    backend = APSchedulerBackend()
    with caplog.at_level(logging.ERROR):
        backend.reconcile()
    assert "Not running job probe_1: unknown task 'probe'" in caplog.text
    assert "probe_1" not in backend._registered


def test_the_engine_refuses_arguments_edited_behind_the_forms_back(caplog):
    Schedule.objects.filter(job_id="cleanup_old_data").update(kwargs={"retention_days": -1})
    backend = APSchedulerBackend()
    with caplog.at_level(logging.ERROR):
        backend.reconcile()
    assert "Not running job cleanup_old_data: retention_days must be an integer" in caplog.text
    assert "cleanup_old_data" not in backend._registered
    assert "health_check" in backend._registered
