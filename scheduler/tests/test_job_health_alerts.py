"""Job health (ok, late, failing) and the one alert per change of state."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from scheduler.execution import run_job
from scheduler.models import JobHealth, JobRun, Schedule
from scheduler.runs import health as jobhealth

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def admins(settings, db):
    Schedule.objects.update(enabled=False)  # the built-in jobs would be late here too
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCHEDULER_FAILING_AFTER = 2


@pytest.fixture
def flaky(db):
    return Schedule.objects.create(
        job_id="flaky", task="probe", kwargs={"fail": True}, interval_seconds=60
    )


def slot(seconds_ago: int):
    return timezone.now().replace(microsecond=0) - timedelta(seconds=seconds_ago)


def test_a_job_turns_failing_after_n_failures_in_a_row_with_one_mail(flaky):
    run_job("flaky", slot=slot(3))
    assert JobHealth.objects.get(job_id="flaky").state == "ok" and not mail.outbox
    run_job("flaky", slot=slot(2))
    health = JobHealth.objects.get(job_id="flaky")
    assert health.state == "failing" and health.failures_in_a_row == 2
    run_job("flaky", slot=slot(1))  # still failing: no new mail
    assert [m.subject for m in mail.outbox] == ["[Django] Job flaky is failing"]
    assert "3 failure(s) in a row" not in mail.outbox[0].body  # sent at the change
    assert "2 failure(s) in a row" in mail.outbox[0].body

    flaky.kwargs = {}
    flaky.save()
    run_job("flaky", slot=slot(0))
    assert JobHealth.objects.get(job_id="flaky").state == "ok"
    assert [m.subject for m in mail.outbox][-1] == "[Django] Job flaky is ok again"
    assert len(mail.outbox) == 2


def test_a_healthy_job_writes_no_health_row():
    Schedule.objects.create(job_id="fine", task="probe", interval_seconds=60)
    run_job("fine", slot=slot(0))
    assert not JobHealth.objects.exists()


def test_a_job_whose_slot_passed_its_grace_unrun_is_late_once():
    schedule = Schedule.objects.create(
        job_id="quiet", task="probe", interval_seconds=60, misfire_grace_seconds=30
    )
    JobRun.objects.create(job_id="quiet", scheduled_at=schedule.anchor, status=JobRun.SUCCEEDED)
    assert jobhealth.mark_late(schedule.anchor + timedelta(seconds=80)) == []
    later = schedule.anchor + timedelta(seconds=100)
    assert jobhealth.mark_late(later) == ["quiet: ok -> late"]
    assert jobhealth.mark_late(later + timedelta(seconds=5)) == []
    assert JobHealth.objects.get(job_id="quiet").state == "late"
    assert [m.subject for m in mail.outbox] == ["[Django] Job quiet is late"]

    JobRun.objects.create(
        job_id="quiet", scheduled_at=schedule.anchor + timedelta(seconds=60), status="succeeded"
    )
    assert jobhealth.mark_late(later) == ["quiet: late -> ok"]
    assert len(mail.outbox) == 2


def test_a_paused_job_is_never_late():
    schedule = Schedule.objects.create(job_id="off", task="probe", interval_seconds=60)
    Schedule.objects.filter(pk=schedule.pk).update(enabled=False)
    assert jobhealth.mark_late(timezone.now() + timedelta(hours=1)) == []


def test_a_mail_failure_never_fails_the_run(flaky, settings):
    settings.EMAIL_BACKEND = "no.such.Backend"
    run_job("flaky", slot=slot(2))
    assert run_job("flaky", slot=slot(1)) == JobRun.FAILED
    assert JobHealth.objects.get(job_id="flaky").state == "failing"


def test_a_success_clears_a_failing_state_set_by_another_process():
    Schedule.objects.create(job_id="fine", task="probe", interval_seconds=60)
    run_job("fine", slot=slot(2))  # seen healthy here
    JobHealth.objects.create(job_id="fine", state="failing", failures_in_a_row=5)
    jobhealth._healthy["fine"] -= jobhealth.HEALTHY_FOR  # as after the shortcut's period
    run_job("fine", slot=slot(1))
    assert JobHealth.objects.get(job_id="fine").state == "ok"


def test_many_jobs_late_at_once_send_a_bounded_number_of_mails():
    """After an outage every job is late at once: a mail each for the first ten, then one
    listing the others, not one send per job from the health thread."""
    from scheduler.runs import alerts

    count = alerts.SEPARATE_MAILS_PER_LOOK + 15
    anchors = []
    for n in range(count):
        schedule = Schedule.objects.create(
            job_id=f"quiet_{n:02}", task="probe", interval_seconds=60, misfire_grace_seconds=30
        )
        anchors.append(schedule.anchor)
    changes = jobhealth.mark_late(max(anchors) + timedelta(seconds=100))
    assert len(changes) == count
    assert JobHealth.objects.filter(state="late").count() == count
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) == alerts.SEPARATE_MAILS_PER_LOOK + 1
    assert subjects[-1] == "[Django] 15 more jobs changed health"
    assert mail.outbox[-1].body.count(": ok -> late: ") == 15
