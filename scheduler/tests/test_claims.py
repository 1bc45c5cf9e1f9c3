"""Crash-safe claims: stale heartbeats, interrupted runs, take-over as the next attempt."""

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduler.execution import run_job
from scheduler.models import JobRun, ProbeRun, Schedule
from scheduler.runs import claims, heartbeat
from tests import support


def this_second():
    return timezone.now().replace(microsecond=0)


def orphan(slot, beat_age=60, owner="gone-host:4242", attempt=1):
    """A claim left `running` by a process that stopped heartbeating `beat_age` s ago."""
    beat = timezone.now() - timedelta(seconds=beat_age)
    return JobRun.objects.create(
        job_id="probe_1",
        scheduled_at=slot,
        status=JobRun.RUNNING,
        attempt=attempt,
        owner=owner,
        started_at=beat,
        heartbeat_at=beat,
    )


@pytest.mark.django_db
def test_the_reaper_interrupts_a_stale_claim_and_offers_it_for_another_attempt():
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=2)
    slot = this_second()
    run = orphan(slot)
    assert claims.reap() == [("probe_1", slot)]
    run.refresh_from_db()
    assert run.status == JobRun.INTERRUPTED
    assert "owner gone-host:4242 stopped heartbeating" in run.summary


@pytest.mark.django_db
def test_a_claim_with_a_fresh_heartbeat_is_left_alone():
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=2)
    orphan(this_second(), beat_age=2)
    assert claims.reap() == []
    assert JobRun.objects.get().status == JobRun.RUNNING


@pytest.mark.django_db
def test_a_dead_process_of_this_host_is_reaped_at_once():
    import socket
    import subprocess
    import sys

    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    orphan(this_second(), beat_age=0, owner=f"{socket.gethostname()}:{dead.stdout.strip()}")
    assert claims.reap() == []  # out of attempts (max 1): interrupted, not retried
    assert JobRun.objects.get().status == JobRun.INTERRUPTED


@pytest.mark.django_db
def test_a_redelivered_slot_runs_as_attempt_two_on_the_same_row_keeping_the_first_error():
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=2)
    slot = this_second()
    orphan(slot)
    assert run_job("probe_1", slot=slot) == JobRun.SUCCEEDED
    run = JobRun.objects.get()
    assert run.attempt == 2
    assert "(earlier: attempt 1: interrupted: owner gone-host:4242" in run.summary
    assert list(ProbeRun.objects.values_list("attempt", flat=True)) == [2]
    assert support.duplicates() == []


@pytest.mark.django_db
def test_no_further_attempt_beyond_the_maximum_or_past_the_grace():
    Schedule.objects.create(
        job_id="probe_1",
        task="probe",
        interval_seconds=3600,
        max_attempts=2,
        misfire_grace_seconds=30,
    )
    slot = this_second()
    orphan(slot, attempt=2)
    assert run_job("probe_1", slot=slot) is None
    given_up = JobRun.objects.get()
    assert given_up.status == JobRun.FAILED  # every allowed attempt died: no endless loop
    assert given_up.summary.startswith("failed: gave up after 2 attempts; last: interrupted")
    late = slot - timedelta(seconds=120)
    orphan(late)
    assert claims.reap() == []  # past its 30 s grace: stays interrupted
    assert not ProbeRun.objects.exists()


@pytest.mark.django_db
def test_a_finished_slot_is_never_taken_over():
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=3)
    slot = this_second()
    assert run_job("probe_1", slot=slot) == JobRun.SUCCEEDED
    assert run_job("probe_1", slot=slot) is None
    assert ProbeRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_processes_taking_over_the_same_claim_run_it_once():
    Schedule.objects.create(
        job_id="probe_1",
        task="probe",
        interval_seconds=3600,
        max_attempts=3,
        kwargs={"sleep": 0.3},
    )
    slot = this_second()
    orphan(slot)
    results = support.race(lambda: run_job("probe_1", slot=slot))
    assert sorted(results, key=str) == [None, JobRun.SUCCEEDED]
    assert support.duplicates() == []
    assert JobRun.objects.get().attempt == 2


@pytest.mark.django_db
def test_heartbeats_stamp_only_this_processs_running_claims():
    slot = this_second()
    mine = orphan(slot, owner=heartbeat.owner_name())
    theirs = orphan(slot + timedelta(seconds=1))
    ended_unrecorded = orphan(slot + timedelta(seconds=2), owner=heartbeat.owner_name())
    with heartbeat.executing(mine):
        assert heartbeat.beat() == 1
    assert heartbeat.beat() == 0  # no longer executing: left to go stale and be reaped
    ended_unrecorded.refresh_from_db()
    assert timezone.now() - ended_unrecorded.heartbeat_at > timedelta(seconds=50)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert timezone.now() - mine.heartbeat_at < timedelta(seconds=5)
    assert timezone.now() - theirs.heartbeat_at > timedelta(seconds=50)


@pytest.mark.django_db
def test_a_dead_owners_running_claim_does_not_block_a_one_at_a_time_job():
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=60, max_running=1)
    orphan(this_second() - timedelta(seconds=60))
    assert run_job("probe_1", slot=this_second()) == JobRun.SUCCEEDED


@pytest.mark.django_db
def test_a_late_result_never_overwrites_the_attempt_that_took_the_claim_over():
    from scheduler.runs import statements

    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=2)
    slot = this_second()
    first = claims.claim("probe_1", slot, timezone.now())
    # Thought dead (say it was frozen), the first owner's claim is taken over...
    JobRun.objects.filter(pk=first.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=60))
    second = claims.take_over(Schedule.objects.get(job_id="probe_1"), slot, timezone.now())
    assert second is not None and second.attempt == 2
    # ...and when it wakes, its result is refused: the row still belongs to attempt 2.
    assert not statements.finish(first, JobRun.SUCCEEDED, timezone.now(), "late", "")
    row = JobRun.objects.get()
    assert (row.status, row.attempt) == (JobRun.RUNNING, 2)
    assert statements.finish(second, JobRun.SUCCEEDED, timezone.now(), "done", "")
    assert JobRun.objects.get().status == JobRun.SUCCEEDED


@pytest.mark.django_db
def test_the_reaper_fails_a_run_whose_last_allowed_attempt_died():
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3600, max_attempts=2)
    orphan(this_second(), attempt=2)
    assert claims.reap() == []
    run = JobRun.objects.get()
    assert run.status == JobRun.FAILED
    assert run.summary.startswith("failed: gave up after 2 attempts; last: interrupted: owner")
