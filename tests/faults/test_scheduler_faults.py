"""Faults 1, 10 and 13 of issue 10, on the APScheduler engine.

1. Executor saturation: far more work than the pool can run → overlaps skipped and
   recorded, misfires recorded, none silent, none doubled.
10. Restarts faster than the interval → the job still runs every slot (each start resumes
    from the run history, never from "now plus one interval").
13. The wall clock jumps an hour ahead → one coalesced run and the skipped slots recorded
    missed, no burst: in this process with time-machine, and across processes with
    libfaketime (`apt-get install faketime`) under a real `manage.py runscheduler`.

(Fault 2, the scheduler down and back, is `scheduler/tests/test_restarts.py`.)
"""

import gc
import glob
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, Schedule
from scheduler.slots import next_whole_second
from tests import support
from tests.support import probe_rows, probe_slots, wait_for_run

# Debian/Ubuntu's `faketime` package, under the machine's multiarch folder.
LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)

# A run with no end (interrupted when the scheduler stopped) was still going at the end.
STILL_GOING = datetime.max.replace(tzinfo=UTC)


def overlapping_runs(job_ids) -> list[str]:
    """Runs of one job that were executing at the same time (each row's start before the
    end of a row started earlier). A row never finished counts as running to the end."""
    found = []
    for job_id in job_ids:
        rows = (
            probe_rows([job_id])
            .order_by("started_at")
            .values_list("scheduled_at", "started_at", "finished_at")
        )
        previous_end = None
        for slot, started, finished in rows:
            if previous_end is not None and started < previous_end:
                found.append(f"{job_id} {slot.isoformat()}")
            previous_end = max(previous_end or started, finished or STILL_GOING)
    return found


# --- 1 ----------------------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_a_saturated_pool_skips_overlaps_and_records_misfires_without_losing_or_doubling(
    scheduler_process, fault_report
):
    """200 jobs every 2 s whose runs take about 3 s, on 20 threads: a hundred slots a second
    for a pool that finishes under seven. Like strategies, each job allows one run at a
    time (`max_running=1`) and a short grace (5 s) turns a slot queued too long into a
    `missed` record. Every slot of the window must be run, skipped or missed, on record;
    none runs twice and no job ever runs twice at once. On SQLite too: twenty threads
    claiming and recording at once must not lose a slot to "database is locked"."""
    # The jobs are set up paused, before the scheduler starts: none runs, or falls due,
    # while the 200 rows are being written.
    call_command("probe", count=200, interval=2, verbosity=0)
    job_ids = [f"probe_{n}" for n in range(1, 201)]
    with transaction.atomic():
        Schedule.objects.filter(job_id__in=job_ids).update(
            enabled=False, max_running=1, misfire_grace_seconds=5
        )
        # Runs of 2.5 to 3.5 s (3 s on average): equal ones would keep the twenty threads
        # in lockstep, each batch ending together, and a job's next slot would then never
        # find its previous run still going.
        for n, job_id in enumerate(job_ids):
            Schedule.objects.filter(job_id=job_id).update(kwargs={"sleep": 2.5 + (n % 11) / 10})
    process = scheduler_process(env=support.subprocess_env(SCHEDULER_THREADS="20"))
    # One grid for all (the worst case: every job due in the same instant), set and the
    # jobs resumed in one short bulk update, committed at once: the window starts two
    # seconds after it is set.
    start = next_whole_second(timezone.now()) + timedelta(seconds=2)
    mark = len(process.lines)
    Schedule.objects.filter(job_id__in=job_ids).update(anchor=start, enabled=True)
    process.wait_for_line(r"Registered job probe_200 \(every 2s\)", 20, mark)
    end = start + timedelta(seconds=14)  # eight slots of each job: 1600 due
    # The saturation itself: let the window pass, and 4 s more for the last slots to be
    # handed to the pool (a slot still queued at the stop is then recorded missed).
    support.wait_until(
        lambda: timezone.now() >= end + timedelta(seconds=4), 40, "the window to pass"
    )
    process.stop(timeout=60)  # slots still queued are cancelled and recorded missed

    skipped = JobRun.objects.filter(job_id__in=job_ids, status=JobRun.SKIPPED)
    late = JobRun.objects.filter(job_id__in=job_ids, summary__contains="grace is 5s")

    def context() -> str:
        """On a failure: each lost slot's job, as the run records and the ledger saw it."""
        lines = []
        for job_id in job_ids:
            for slot in support.lost(job_id, start, end):
                near = (slot - timedelta(seconds=8), slot + timedelta(seconds=8))
                runs = JobRun.objects.filter(job_id=job_id, scheduled_at__range=near)
                probes = ProbeRun.objects.filter(job_id=job_id, scheduled_at__range=near)
                lines.append(f"{job_id} {slot.isoformat()} lost; runs:")
                lines += [
                    f"  {r.scheduled_at:%H:%M:%S} {r.status} started {r.started_at} "
                    f"finished {r.finished_at} {r.summary}"
                    for r in runs.order_by("scheduled_at")
                ]
                lines += [
                    f"  probe {p.scheduled_at:%H:%M:%S} {p.started_at} -> {p.finished_at}"
                    for p in probes.order_by("scheduled_at")
                ]
        return "\n".join(lines) + "\n" + process.output[-3000:]

    row = fault_report.check_ledger(
        1,
        job_ids,
        start,
        end,
        note=(
            f"200 jobs every 2s, 2.5-3.5s runs, 20 threads, grace 5s, max_running 1; "
            f"of the missed, {skipped.filter(scheduled_at__lte=end).count()} are overlaps "
            "skipped, the rest misfires"
        ),
        context=context,
    )
    assert row["expected"] == 1600
    assert row["ran"] > 0
    assert row["missed"] > 0
    assert skipped.filter(scheduled_at__lte=end).exists()  # overlaps did arise, and were skipped
    assert {run.summary for run in skipped} == {"skipped: 1 run(s) of this job still going"}
    assert late.filter(status=JobRun.MISSED).exists()  # misfires, each with its lateness
    assert overlapping_runs(job_ids) == []
    assert "Traceback" not in process.output
    assert "database is locked" not in process.output


# --- 10 ---------------------------------------------------------------------------------
@pytest.mark.timeout(150)
def test_restarts_faster_than_the_interval_still_run_every_slot(scheduler_process, fault_report):
    """A 6 s job, its scheduler stopped (SIGTERM) and started again every 4 s for 32 s:
    an engine that started each job "one interval from now" would never run it. Each
    start resumes from the run history instead. The stops fall half a second before
    every other slot, so some slots are due while no scheduler runs: inside their grace,
    they run late, once; no slot is merely recorded missed."""
    schedule = Schedule.objects.create(
        job_id="probe_restarts",
        task="probe",
        interval_seconds=6,
        kwargs={"sleep": 0.5},
        anchor=next_whole_second(timezone.now()) + timedelta(seconds=1),
    )
    downtimes = []
    process = scheduler_process()
    for k in range(1, 9):
        stop_at = schedule.anchor + timedelta(seconds=4 * k - 0.5)
        # The scheduler runs until its stop time (time deliberately let pass).
        time.sleep(max(0.0, (stop_at - timezone.now()).total_seconds()))
        stopping = timezone.now()  # from SIGTERM on, the old scheduler fires nothing
        assert process.stop() == 0
        process = scheduler_process()
        downtimes.append((stopping, timezone.now()))
    end = schedule.timing.slot_at_or_before(timezone.now())
    support.wait_until(
        lambda: probe_rows(["probe_restarts"]).filter(scheduled_at=end).exists(),
        20,
        "the last slot of the window to run",
    )
    process.stop()

    ran = set(probe_rows(["probe_restarts"]).values_list("scheduled_at", flat=True))
    due_while_down = [
        slot
        for slot in ran | {end}
        if any(stopping < slot <= started for stopping, started in downtimes)
    ]
    runs = probe_rows(["probe_restarts"]).filter(scheduled_at__range=(schedule.anchor, end))
    latest_start = max(
        (started - slot).total_seconds()
        for slot, started in runs.values_list("scheduled_at", "started_at")
    )
    row = fault_report.check_ledger(
        10,
        ["probe_restarts"],
        schedule.anchor,
        end,
        recovery=round(latest_start, 1),
        note=(
            f"6s job, {len(downtimes)} restarts every 4s (SIGTERM, start again), "
            f"{len(due_while_down)} slot(s) due while down; recovery = the latest a slot "
            "started after its time"
        ),
    )
    assert row["expected"] >= 5
    assert row["ran"] == row["expected"]  # every slot ran: none only recorded missed
    assert due_while_down  # and some of them fell due with no scheduler running


# --- 13 ---------------------------------------------------------------------------------
def assert_one_coalesced_run(job_id, before, after, jumped_to) -> JobRun:
    """After a jump: the slot at `after` ran (the latest due), nothing between `before`
    and it did, and the slots in between are one `missed` record saying why."""
    ran = probe_slots(job_id)
    assert before in ran and after in ran
    assert not [slot for slot in ran if before < slot < after]  # no burst of catch-up runs
    gap = JobRun.objects.get(job_id=job_id, status=JobRun.MISSED, scheduled_at__gt=before)
    assert gap.scheduled_at > before
    assert gap.missed_until < after <= jumped_to
    assert gap.summary.startswith("coalesced: ")
    assert "only the latest ran" in gap.summary
    return gap


def close_pool_connections(backend) -> None:
    """Let the engine's pool threads end, and their database connections with them (a
    session left open keeps PostgreSQL from dropping the test database)."""
    backend.executor.shutdown(wait=True)
    gc.collect()


@pytest.mark.timeout(90)
def test_an_hour_jump_of_the_clock_runs_one_coalesced_slot_in_process(
    transactional_db, fault_report
):
    """The engine runs in this process under time-machine; its clock jumps an hour while
    it waits for the next minute's slot. At its next wake-up (asked for at once rather
    than waited for) the sixty slots due are one run of the latest and one missed record
    for the other fifty-nine; then the job goes on normally."""
    from scheduler.backends.apscheduler import APSchedulerBackend

    with time_machine.travel(timezone.now(), tick=True) as clock:
        schedule = Schedule.objects.create(
            job_id="probe_minute",
            task="probe",
            interval_seconds=60,
            anchor=next_whole_second(timezone.now()) + timedelta(seconds=1),
        )
        first = schedule.anchor
        backend = APSchedulerBackend(guard=lambda: True)
        backend.start()
        try:
            wait_for_run("probe_minute", first, finished=True)
            clock.shift(timedelta(hours=1))
            jumped_to = timezone.now()
            backend.engine.wakeup()  # its timer (monotonic) would wake it within a minute
            latest = schedule.timing.slot_at_or_before(jumped_to)
            wait_for_run("probe_minute", latest, finished=True)
            # The job goes on from there: the next slot runs on time, alone.
            clock.shift(schedule.timing.next_slot(latest) - timezone.now())
            backend.engine.wakeup()
            following = wait_for_run(
                "probe_minute", latest + timedelta(minutes=1), finished=True
            ).scheduled_at
        finally:
            backend.shutdown(5)
            close_pool_connections(backend)
        gap = assert_one_coalesced_run("probe_minute", first, latest, jumped_to)
        assert gap.missed_count == 59
        row = fault_report.check_ledger(
            13,
            ["probe_minute"],
            first,
            following,
            note="in process (time-machine): 1-minute job, clock +1h",
        )
    assert (row["ran"], row["missed"]) == (3, 59)


# libfaketime 0.9.10 with FAKETIME_DONT_FAKE_MONOTONIC breaks Python 3.11's `time.sleep`
# (an absolute clock_nanosleep on the monotonic clock fails with EINVAL: libfaketime issue
# #426). The faked process sleeps through a monotonic wait instead, which libfaketime
# leaves alone; nothing else about it changes.
SLEEP_SHIM = """
import threading, time

def _sleep(seconds):
    threading.Event().wait(seconds)

time.sleep = _sleep
"""


@pytest.fixture
def faked_clock():
    """A file libfaketime reads on every clock call (FAKETIME_NO_CACHE): writing an offset
    to it moves the wall clock of the process started with `env`; monotonic time is left
    alone (FAKETIME_DONT_FAKE_MONOTONIC), as a real clock step leaves it. A test using it
    stops its faked process itself (in a `finally`) before this folder is removed, and
    asks for this fixture before `scheduler_process`, whose teardown then comes first."""
    if LIBFAKETIME is None:
        if os.environ.get("CI") == "true":
            pytest.fail("libfaketime is not installed (apt-get install faketime), and CI=true")
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    folder = Path(tempfile.mkdtemp(prefix="altar-faketime-"))
    offset = folder / "offset"
    offset.write_text("+0\n")
    (folder / "sitecustomize.py").write_text(SLEEP_SHIM)
    # The shim's folder goes first on the path the process already has, if any.
    python_path = os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    env = support.subprocess_env(
        LD_PRELOAD=LIBFAKETIME,
        FAKETIME_TIMESTAMP_FILE=str(offset),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        PYTHONPATH=python_path,
    )
    yield offset, env
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(90)
def test_an_hour_jump_of_a_running_schedulers_clock_runs_one_coalesced_slot(
    faked_clock, scheduler_process, fault_report
):
    """The same jump under a real `runscheduler`, its wall clock moved by libfaketime: the
    engine's sleep is monotonic, so it wakes at its next 2 s tick by itself and finds
    1800 slots due."""
    offset, env = faked_clock
    process = scheduler_process(env=env)
    try:
        schedule = Schedule.objects.create(
            job_id="probe_jump",
            task="probe",
            interval_seconds=2,
            anchor=next_whole_second(timezone.now()) + timedelta(seconds=1),
        )
        wait_for_run("probe_jump", schedule.anchor + timedelta(seconds=2), finished=True)
        # Replaced in one step: libfaketime rereads the file on every call and must never
        # find it half written.
        jump = offset.with_name("jump")
        jump.write_text("+3600\n")
        os.replace(jump, offset)
        jumped = time.monotonic()
        jumped_at = timezone.now()
        jumped_to = jumped_at + timedelta(hours=1)
        # The next runs are an hour ahead of this process's clock.
        after = support.wait_until(
            lambda: (
                probe_rows(["probe_jump"])
                .filter(scheduled_at__gte=jumped_to - timedelta(seconds=5))
                .order_by("scheduled_at")
                .first()
            ),
            20,
            "a run after the jump",
        ).scheduled_at
        recovery = time.monotonic() - jumped
        # The last slot run on the old clock (one may have run just as the file was written).
        before = (
            probe_rows(["probe_jump"])
            .filter(scheduled_at__lte=jumped_at + timedelta(seconds=5))
            .latest("scheduled_at")
            .scheduled_at
        )
        # The job goes on: a later slot runs to the end. Any one will do, as a loaded
        # machine may coalesce the very next slots too (recorded missed, which the ledger
        # checks below).
        following = support.wait_until(
            lambda: (
                probe_rows(["probe_jump"])
                .filter(scheduled_at__gte=after + timedelta(seconds=4), finished_at__isnull=False)
                .order_by("scheduled_at")
                .first()
            ),
            20,
            "a finished run after the coalesced one",
        ).scheduled_at
    finally:
        process.stop()  # before `faked_clock` removes its offset file

    gap = assert_one_coalesced_run("probe_jump", before, after, jumped_to + timedelta(seconds=5))
    assert gap.missed_count >= 1700
    fault_report.check_ledger(
        13,
        ["probe_jump"],
        schedule.anchor,
        following,
        recovery=round(recovery, 1),
        note=(
            f"across processes (libfaketime): 2s job, clock +1h, {gap.missed_count} slots "
            "coalesced; recovery = from the jump to the coalesced run"
        ),
    )
    assert "Traceback" not in process.output
