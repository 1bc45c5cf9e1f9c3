"""The one execution path: claim, run, record — checked on the probe ledger."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.execution import run_job
from scheduler.models import JobRun, ProbeRun, Schedule
from tests import support


def probe_schedule(job_id="probe_1", **fields) -> Schedule:
    fields.setdefault("interval_seconds", 60)
    return Schedule.objects.create(job_id=job_id, task="probe", **fields)


def this_second():
    return timezone.now().replace(microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_the_same_slot_fired_twice_at_once_executes_once():
    probe_schedule(kwargs={"sleep": 0.3})
    slot = this_second()
    results = support.race(lambda: run_job("probe_1", slot=slot))
    assert sorted(results, key=str) == [None, JobRun.SUCCEEDED]
    assert ProbeRun.objects.filter(job_id="probe_1", scheduled_at=slot).count() == 1
    assert support.duplicates() == []


@pytest.mark.django_db
def test_a_slot_fired_again_later_is_not_run_again():
    probe_schedule()
    slot = this_second()
    assert run_job("probe_1", slot=slot) == JobRun.SUCCEEDED
    assert run_job("probe_1", slot=slot) is None
    assert support.duplicates() == []
    assert ProbeRun.objects.count() == 1


@pytest.mark.django_db
def test_a_run_is_recorded_with_its_slot_owner_times_and_summary():
    probe_schedule()
    slot = this_second()
    run_job("probe_1", slot=slot)
    run = JobRun.objects.get(job_id="probe_1")
    assert run.status == JobRun.SUCCEEDED
    assert run.scheduled_at == slot
    assert run.attempt == 1
    assert ":" in run.owner
    assert run.started_at <= run.finished_at
    assert run.summary.startswith("probe slot")


@pytest.mark.django_db
def test_a_failing_task_is_recorded_with_its_traceback_and_keeps_its_schedule():
    schedule = probe_schedule(kwargs={"fail": True})
    assert run_job("probe_1", slot=this_second()) == JobRun.FAILED
    run = JobRun.objects.get(job_id="probe_1")
    assert run.summary == "RuntimeError: probe probe_1 asked to fail"
    assert "Traceback" in run.traceback and "RuntimeError" in run.traceback
    schedule.refresh_from_db()
    assert schedule.enabled
    assert schedule.next_fire_time() is not None
    # The next slot still runs.
    assert run_job("probe_1", slot=this_second() + timedelta(seconds=60)) == JobRun.FAILED


@pytest.mark.django_db
def test_a_slot_later_than_its_grace_is_recorded_missed_not_run():
    probe_schedule(misfire_grace_seconds=5)
    slot = this_second() - timedelta(seconds=30)
    assert run_job("probe_1", slot=slot) == JobRun.MISSED
    run = JobRun.objects.get(job_id="probe_1")
    assert (run.missed_count, run.missed_until) == (1, slot)
    assert ProbeRun.objects.count() == 0
    assert support.lost("probe_1", slot, slot) == []


@pytest.mark.django_db(transaction=True)
def test_an_overlapping_slot_is_skipped_and_recorded():
    probe_schedule(kwargs={"sleep": 1.0}, max_running=1)
    first = this_second()
    runner = support.in_thread(run_job, "probe_1", slot=first)
    support.wait_until(lambda: ProbeRun.objects.exists(), 5, "the first run to start")
    assert run_job("probe_1", slot=first + timedelta(seconds=60)) == JobRun.SKIPPED
    runner.join(10)
    statuses = dict(JobRun.objects.values_list("scheduled_at", "status"))
    assert statuses == {first: JobRun.SUCCEEDED, first + timedelta(seconds=60): JobRun.SKIPPED}
    assert ProbeRun.objects.count() == 1


@pytest.mark.django_db
def test_a_deleted_schedule_runs_nothing():
    assert run_job("no_such_job", slot=this_second()) is None
    assert not JobRun.objects.exists()


@pytest.mark.django_db
def test_a_slot_handed_over_before_a_pause_runs_nothing_and_is_recorded_missed():
    probe_schedule(enabled=False)
    slot = this_second()
    assert run_job("probe_1", slot=slot) == JobRun.MISSED
    run = JobRun.objects.get(job_id="probe_1")
    assert (run.scheduled_at, run.missed_until, run.missed_count) == (slot, slot, 1)
    assert run.summary == "missed: the job was paused before this run started"
    assert ProbeRun.objects.count() == 0
    assert run_job("probe_1", slot=slot) is None  # handed over twice: one record


def test_the_ledger_reports_a_slot_executed_twice(db):
    slot = this_second()
    for _ in range(2):
        ProbeRun.objects.create(
            job_id="probe_1", scheduled_at=slot, pid=1, started_at=slot, finished_at=slot
        )
    assert len(support.duplicates()) == 2  # finished twice, and attempt 1 executed twice


def test_the_ledger_reports_a_slot_neither_run_nor_recorded_missed(db):
    anchor = this_second()
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=10, anchor=anchor)
    ProbeRun.objects.create(job_id="probe_1", scheduled_at=anchor, pid=1, started_at=anchor)
    assert support.lost("probe_1", anchor, anchor + timedelta(seconds=20)) == [
        anchor + timedelta(seconds=10),
        anchor + timedelta(seconds=20),
    ]


# --- Retries ---------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_failed_run_is_retried_with_backoff_and_keeps_each_attempts_error(monkeypatch):
    waits = []
    monkeypatch.setattr("scheduler.execution.time.sleep", waits.append)
    Schedule.objects.create(
        job_id="probe_1",
        task="probe",
        interval_seconds=3600,
        max_attempts=3,
        retry_backoff_seconds=4,
        kwargs={"fail_attempts": 2},
    )
    slot = timezone.now().replace(microsecond=0)
    assert run_job("probe_1", slot=slot) == JobRun.SUCCEEDED
    run = JobRun.objects.get()
    assert run.attempt == 3
    assert [a["attempt"] for a in run.attempts] == [1, 2]
    assert all("probe probe_1 asked to fail" in a["error"] for a in run.attempts)
    assert "(earlier: attempt 2: RuntimeError" in run.summary
    # Exponential with jitter: 2–4 s, then 4–8 s.
    assert 2 <= waits[0] <= 4 and 4 <= waits[1] <= 8
    assert list(ProbeRun.objects.order_by("id").values_list("attempt", flat=True)) == [1, 2, 3]


@pytest.mark.django_db
def test_a_run_failing_every_attempt_is_recorded_failed_after_the_last(monkeypatch):
    monkeypatch.setattr("scheduler.execution.time.sleep", lambda seconds: None)
    Schedule.objects.create(
        job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=2, kwargs={"fail": True}
    )
    assert run_job("probe_1", slot=timezone.now().replace(microsecond=0)) == JobRun.FAILED
    run = JobRun.objects.get()
    assert (run.attempt, len(run.attempts)) == (2, 1)
    assert "RuntimeError: probe probe_1 asked to fail" in run.traceback


@pytest.mark.django_db
def test_no_retry_by_default(monkeypatch):
    monkeypatch.setattr("scheduler.execution.time.sleep", lambda seconds: pytest.fail("retried"))
    Schedule.objects.create(
        job_id="probe_1", task="probe", interval_seconds=3600, kwargs={"fail": True}
    )
    assert run_job("probe_1", slot=timezone.now().replace(microsecond=0)) == JobRun.FAILED
    assert JobRun.objects.get().attempts == []


@pytest.mark.django_db(transaction=True)
def test_run_finished_is_sent_once_with_the_outcome_and_a_failing_receiver_changes_nothing():
    from scheduler.signals import run_finished

    heard = []

    def listener(sender, job_id, slot, status, summary, **kwargs):
        heard.append((job_id, slot, status))

    def broken(sender, **kwargs):
        raise RuntimeError("receiver bug")

    probe_schedule("signal_job")
    slot = this_second()
    run_finished.connect(listener)
    run_finished.connect(broken)
    try:
        assert run_job("signal_job", slot=slot) == JobRun.SUCCEEDED
        assert run_job("signal_job", slot=slot) is None  # already claimed: no second signal
    finally:
        run_finished.disconnect(listener)
        run_finished.disconnect(broken)
    assert heard == [("signal_job", slot, JobRun.SUCCEEDED)]
    assert JobRun.objects.get(job_id="signal_job").status == JobRun.SUCCEEDED


def test_the_ledger_counts_a_skipped_slot_as_recorded_not_lost(db):
    anchor = this_second()
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=10, anchor=anchor)
    ProbeRun.objects.create(job_id="probe_1", scheduled_at=anchor, pid=1, started_at=anchor)
    skipped = anchor + timedelta(seconds=10)
    JobRun.objects.create(
        job_id="probe_1",
        scheduled_at=skipped,
        status=JobRun.SKIPPED,
        started_at=skipped,
        summary="skipped: 1 run(s) of this job still going",
    )
    assert support.lost("probe_1", anchor, skipped) == []
    assert support.tally("probe_1", anchor, skipped) == {
        "expected": 2,
        "ran": 1,
        "missed": 1,
        "lost": 0,
    }


def test_the_ledger_counts_a_skip_with_no_run_in_flight_as_lost(db):
    """A skip while nothing executes is a claim stuck `running`, not the overlap limit."""
    anchor = this_second()
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=10, anchor=anchor)
    ProbeRun.objects.create(
        job_id="probe_1",
        scheduled_at=anchor,
        pid=1,
        started_at=anchor - timedelta(seconds=5),
        finished_at=anchor - timedelta(seconds=4),
    )
    skipped = anchor + timedelta(seconds=10)
    JobRun.objects.create(
        job_id="probe_1", scheduled_at=skipped, status=JobRun.SKIPPED, started_at=anchor
    )
    assert support.lost("probe_1", anchor, skipped) == [skipped]
