"""A dyno restart as Heroku does it: the new dyno starts while the old one gets SIGTERM
(every process in it), and SIGKILL 30 s later. Default settings: the web dyno runs the
scheduler (the APScheduler backend) under the Procfile's gunicorn."""

import os
import re
import signal
import subprocess
import time

import pytest
from django.db import connection
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, Schedule
from tests import support

from .heroku import production_env

pytestmark = [pytest.mark.subprocess, pytest.mark.postgres_only]

HEROKU_KILL_AFTER = 30
GUNICORN_GRACEFUL_TIMEOUT = 28  # gunicorn.conf.py
TAKEOVER_BOUND = 10  # the new dyno fires again long before the old one's grace ends


def long_run_and_one_second_probe(**long_run) -> None:
    """The jobs a restart cuts through: a 120 s run, and a probe every second."""
    Schedule.objects.all().delete()
    Schedule.objects.create(
        job_id="probe_long", task="probe", interval_seconds=3600, kwargs={"sleep": 120}, **long_run
    )
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)


def long_run_started(bound: float) -> None:
    support.wait_until(
        lambda: ProbeRun.objects.filter(job_id="probe_long").exists(), bound, "the long run"
    )


def stopped_like_heroku(dyno: support.Process, terminated: float) -> float:
    """Wait for a dyno sent SIGTERM at `terminated` (monotonic) to exit; SIGKILL it and fail
    at Heroku's 30 s, as Heroku would. Returns how long it took."""
    try:
        dyno.proc.wait(HEROKU_KILL_AFTER - (time.monotonic() - terminated))
    except subprocess.TimeoutExpired:
        os.killpg(dyno.proc.pid, signal.SIGKILL)
        pytest.fail(f"the old dyno outlived Heroku's {HEROKU_KILL_AFTER}s:\n{dyno.output}")
    return time.monotonic() - terminated


def web_dyno() -> support.Process:
    port = support.free_port()
    return support.Process(
        support.procfile_command("web"), env=production_env(PORT=str(port), DYNO="web.1")
    )


def test_a_restart_hands_over_at_once_records_the_cut_run_and_doubles_no_slot(
    transactional_db,
):
    if connection.vendor != "postgresql":
        pytest.skip("dynos share a PostgreSQL database (DATABASE_URL=postgres://...)")
    long_run_and_one_second_probe()
    old = web_dyno()
    new = None
    try:
        long_run_started(60)
        start = timezone.now()
        new = web_dyno()
        new.wait_for_line("standing by", timeout=60)
        os.killpg(old.proc.pid, signal.SIGTERM)
        terminated = time.monotonic()
        new.wait_for_line("Scheduler lock acquired by", timeout=TAKEOVER_BOUND)
        took_over = time.monotonic() - terminated
        old_took = stopped_like_heroku(old, terminated)
        support.wait_until(
            lambda: (
                ProbeRun.objects.filter(job_id="probe_1", started_at__gt=start)
                .exclude(pid__in=old_pids(old))
                .count()
                >= 3
            ),
            30,
            "the new dyno to run the schedule on",
        )
        end = timezone.now() - timezone.timedelta(seconds=2)
    finally:
        for dyno in (new, old):
            if dyno is not None:
                dyno.stop()

    assert took_over < TAKEOVER_BOUND
    # The old dyno gave the long run its 25 s grace, recorded it and left on its own:
    # before gunicorn's 28 s graceful timeout, let alone Heroku's SIGKILL.
    assert 25 <= old_took < GUNICORN_GRACEFUL_TIMEOUT, old_took
    assert old.proc.returncode == 0, old.output
    cut = JobRun.objects.get(job_id="probe_long")
    assert cut.status == JobRun.INTERRUPTED
    assert cut.summary == "interrupted: the scheduler stopped after a 25s grace"
    assert ProbeRun.objects.filter(job_id="probe_long").count() == 1  # not run again
    # Every one-second slot across the restart ran once, or is on record as missed.
    assert support.duplicates() == []
    assert support.lost("probe_1", start, end) == []


def old_pids(process: support.Process) -> set[int]:
    """The gunicorn master's workers' pids, from its log ("Booting worker with pid")."""
    return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", process.output)}


def test_a_worker_dyno_restart_gives_the_run_its_grace_then_the_new_dyno_retries_it(
    redis_server, settings
):
    settings.SCHEDULER_BACKEND = "celery"
    long_run_and_one_second_probe(max_attempts=2, retry_backoff_seconds=0)

    def worker_dyno() -> support.Process:
        env = production_env(
            SCHEDULER_BACKEND="celery", REDIS_URL=redis_server.url, DYNO="worker.1"
        )
        return support.Process(support.procfile_command("worker"), env=env)

    old = worker_dyno()
    new = None
    try:
        long_run_started(90)
        start = timezone.now()
        new = worker_dyno()
        new.wait_for_line(r"standing by", timeout=90)
        os.killpg(old.proc.pid, signal.SIGTERM)
        old_took = stopped_like_heroku(old, time.monotonic())
        support.wait_until(
            lambda: ProbeRun.objects.filter(job_id="probe_long", attempt=2).exists(),
            30,
            "the new dyno to take the cut run over as attempt 2",
        )
        end = timezone.now() - timezone.timedelta(seconds=2)
    finally:
        for dyno in (new, old):
            if dyno is not None:
                dyno.stop(timeout=40)

    assert 25 <= old_took < HEROKU_KILL_AFTER, old_took
    cut = JobRun.objects.get(job_id="probe_long")
    assert cut.attempt == 2
    assert cut.attempts[0]["error"] == "interrupted: stopped from outside (SystemExit)"
    assert "Initiating Soft Shutdown, terminating in 25 seconds" in old.output
    assert support.duplicates() == []
    assert support.lost("probe_1", start, end) == []
