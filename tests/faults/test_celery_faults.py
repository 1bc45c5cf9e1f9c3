"""Faults 6-9 of issue 10, on the Celery backend: Redis paused, Redis absent at start, the
worker's main process killed, beat killed right after a send.

Real processes on loopback: a prefork `celery worker`, celery beat (`manage.py
runscheduler`), the Procfile's gunicorn where the web matters, a private `redis-server`,
PostgreSQL. The worker and beat come from the Celery backend's own `hub` fixture; every
test counts its slots on the probe ledger. (Fault 5, Redis stopped, is tested there.)
"""

import os
import re
import signal
import time
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun, Schedule
from scheduler.tests import test_celery_backend as celery_tests
from scheduler.tests.test_celery_backend import probe, probe_slots, wait_for_slots
from tests import support

from ..heroku import VENV_BIN

pytestmark = pytest.mark.postgres_only

START_BOUND = 60
RUN_BOUND = 30
# A request, a health check or a send to a Redis that accepts connections but does not
# answer must give up within this (settings: REDIS_TIMEOUT 3 s, socket_timeout 10 s).
ANSWER_BOUND = 15

# The Celery backend's own fixtures: workers and beats started on demand, on a private Redis.
celery_env = celery_tests.celery_env
hub = celery_tests.hub


# --- Helpers ----------------------------------------------------------------------------
class Web:
    """The Procfile's gunicorn on the Celery backend's settings, and a staff user who may
    call it with a session (pages) or an API token (the JSON API)."""

    def __init__(self, env: dict[str, str]):
        from django.contrib.auth import get_user_model

        from scheduler.web import tokens

        self.port = support.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # as a dyno has it
        self.process = support.Process(
            support.procfile_command("web"), env={**env, "PORT": str(self.port), "PATH": path}
        )
        user = get_user_model().objects.create_superuser("staff", "", "pw-for-tests-only")
        client = Client()
        client.force_login(user)  # a database session, which gunicorn reads too
        self.session = requests.Session()
        self.session.cookies.set("sessionid", client.cookies["sessionid"].value)
        self.token = tokens.issue(user, "fault tests")[1]
        try:
            support.wait_until(self._up, START_BOUND, "gunicorn to answer", every=0.5)
        except AssertionError:
            self.process.stop()
            raise

    def _up(self) -> bool:
        try:
            return self.session.get(f"{self.url}/healthz", timeout=5).status_code in (200, 503)
        except requests.RequestException:
            return False

    def timed(self, method: str, path: str, **kwargs) -> tuple[requests.Response, float]:
        """Call `path`; return the response and how long it took."""
        started = time.monotonic()
        response = self.session.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        return response, time.monotonic() - started

    def api(self, path: str) -> tuple[requests.Response, float]:
        return self.timed("POST", path, headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture
def web(hub):
    server = Web(hub.env)
    yield server
    server.process.stop()


def first_run_after(moment, job_id="probe_1"):
    runs = ProbeRun.objects.filter(job_id=job_id, started_at__gte=moment)
    return runs.order_by("started_at").first()


def ledger_end(job_id="probe_1"):
    return ProbeRun.objects.filter(job_id=job_id).latest("scheduled_at").scheduled_at


# --- 6. Redis paused ---------------------------------------------------------------------
# Longer than beat's publish timeout: 10 s on the socket, once retried (retry_on_timeout).
PAUSE_SECONDS = 25
PUBLISH_BOUND = 25


@pytest.mark.timeout(180)
def test_while_redis_is_paused_the_web_answers_beat_gives_up_in_time_and_no_slot_doubles(
    hub, web, redis_server, fault_report
):
    """`CLIENT PAUSE ALL` keeps Redis's connections open but unanswered, the case where a
    missing socket timeout hangs a request or beat for good. Every answer is bounded: the
    pages and the API do not touch Redis, `/healthz` reports the broker down in its own
    3 s, beat's send fails and says so, and the slots due meanwhile are run or recorded
    missed (coalesced) once Redis answers again."""
    from strategies.models import Strategy

    strategy = Strategy.objects.create(name="Trend", symbol="BTC/USDT", interval_seconds=60)
    probe(interval=1)
    worker = hub.worker()
    beat = hub.beat()
    wait_for_slots(2)
    start = timezone.now()
    log_mark = len(beat.lines)

    redis_server.cli("CLIENT", "PAUSE", str(PAUSE_SECONDS * 1000), "ALL")
    paused_at = time.monotonic()
    resumed_at = timezone.now() + timedelta(seconds=PAUSE_SECONDS)
    answers = {
        "/healthz": web.timed("GET", "/healthz"),
        "/jobs/": web.timed("GET", "/jobs/"),
        "start": web.api(f"/api/v1/strategies/{strategy.pk}/start"),
        "stop": web.api(f"/api/v1/strategies/{strategy.pk}/stop"),
    }
    assert time.monotonic() - paused_at < PAUSE_SECONDS, "the requests outlasted the pause"
    for what, (_, took) in answers.items():
        assert took < ANSWER_BOUND, f"{what} took {took:.1f}s while Redis was paused"
    health = answers["/healthz"][0]
    assert health.status_code == 503
    assert "broker" in health.json()["failing"]
    assert answers["/jobs/"][0].status_code == 200
    assert answers["start"][0].json()["active"] is True
    assert answers["stop"][0].json()["active"] is False

    # Beat's send to the paused Redis fails within its socket timeout, and it says so.
    beat.wait_for_line(r"Broker unreachable, \d+ run\(s\) waiting", PUBLISH_BOUND, log_mark)
    gave_up = time.monotonic() - paused_at
    assert gave_up < PAUSE_SECONDS
    support.wait_until(
        lambda: first_run_after(resumed_at), RUN_BOUND, "a probe run after the pause"
    )
    recovery = (first_run_after(resumed_at).started_at - resumed_at).total_seconds()
    wait_for_slots(probe_slots() + 3)
    assert beat.proc.poll() is None and worker.proc.poll() is None
    assert web.timed("GET", "/healthz")[0].status_code == 200
    end = ledger_end()
    assert JobRun.objects.filter(
        job_id="probe_1", status=JobRun.MISSED, summary__startswith="coalesced:"
    ).exists(), "the slots due during the pause are one coalesced missed record"

    slowest = max(took for _, took in answers.values())
    fault_report.check_ledger(
        6,
        ["probe_1"],
        start,
        end,
        recovery=round(recovery, 1),
        note=f"CLIENT PAUSE {PAUSE_SECONDS}s: slowest web answer {slowest:.1f}s, "
        f"beat's send failed after {gave_up:.0f}s",
    )


# --- 7. Redis absent at start ------------------------------------------------------------
@pytest.mark.timeout(180)
def test_a_worker_dyno_started_before_redis_says_so_retries_and_runs_once_redis_is_up(
    redis_with_password, settings, client, fault_report
):
    """A worker dyno (the Procfile's `worker`: the worker with beat embedded) whose Redis
    is not there yet: one clear line per attempt, a bounded wait between attempts, the
    process stays up (no crash loop for Heroku to restart), no password in the logs, and
    `/healthz` says the broker is down. When Redis comes up, the slots run."""
    redis = redis_with_password
    redis.stop()  # its port is now free: nothing listens there
    settings.SCHEDULER_BACKEND = "celery"
    settings.CELERY_BROKER_URL = redis.url
    Schedule.objects.all().delete()
    start = timezone.now()
    probe(interval=1)
    env = support.subprocess_env(
        SCHEDULER_BACKEND="celery",
        REDIS_URL=redis.url,
        SCHEDULER_HEARTBEAT_SECONDS="1",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    dyno = support.Process(support.procfile_command("worker"), env=env)
    try:
        dyno.wait_for_line(
            rf"consumer: Cannot connect to redis://:\*\*@127\.0\.0\.1:{redis.port}/0: "
            r"Error 111 connecting .* Connection refused",
            START_BOUND,
        )
        retry = dyno.wait_for_line(r"Trying again in (\d+\.\d+) seconds\.\.\. \(1/\d+\)", 10)
        dyno.wait_for_line(r"Trying again in \d+\.\d+ seconds\.\.\. \(2/\d+\)", 30)
        # The embedded beat says so too, and keeps its runs to send.
        dyno.wait_for_line(r"Broker unreachable, \d+ run\(s\) waiting to be sent", 30)
        assert dyno.proc.poll() is None, "the worker gave up instead of retrying"
        health = client.get("/healthz")
        assert health.status_code == 503
        assert "broker" in health.json()["failing"]

        redis.start()  # on the same port
        up_at = timezone.now()
        dyno.wait_for_line(r"\bready\.", START_BOUND)
        support.wait_until(lambda: first_run_after(up_at), RUN_BOUND, "a run once Redis is up")
        recovery = (first_run_after(up_at).started_at - up_at).total_seconds()
        wait_for_slots(probe_slots() + 3)
        assert "broker" not in client.get("/healthz").json()["failing"]
        end = ledger_end()
    finally:
        dyno.stop(timeout=40)
    assert redis.password not in dyno.output
    assert redis.password not in health.content.decode()

    fault_report.check_ledger(
        7,
        ["probe_1"],
        start,
        end,
        recovery=round(recovery, 1),
        note="worker -B started with no Redis: Redis up after the 2nd retry "
        f"(waits {retry.group(1)}s, growing by 2 s up to kombu's 30 s)",
    )


# --- 8. The worker's main process killed -----------------------------------------------
VISIBILITY_TIMEOUT = 8


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.timeout(180)
def test_a_worker_whose_main_process_is_killed_has_its_runs_redelivered_and_each_slot_runs_once(
    hub, fault_report
):
    """SIGKILL on the worker's main process while its two pool processes run a slot each
    (messages delivered, not acknowledged). The pool processes die with it; beat reaps
    their claims at once (their pids are gone), and Redis gives the messages back after
    the visibility timeout (8 s here, 300 s in production) to the next worker. A job that
    allows a second attempt runs the cut slot again as attempt 2; one that does not keeps
    it recorded interrupted, and its redelivered message runs nothing."""
    hub.env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)  # before any process starts
    start = timezone.now()
    # max_running=2: attempt 2 of the cut slot may overlap the next slot, not skip it.
    probe("probe_retried", interval=4, max_attempts=2, max_running=2, kwargs={"sleep": 2.5})
    probe("probe_once", interval=4, kwargs={"sleep": 2.5})
    jobs = ["probe_retried", "probe_once"]
    worker = hub.worker()
    hub.beat()
    cut = support.wait_until(
        lambda: len(running := list(ProbeRun.objects.filter(finished_at=None))) == 2 and running,
        RUN_BOUND,
        "a run of each job in flight on the pool",
    )
    slot = {run.job_id: run.scheduled_at for run in cut}
    pool = {run.pid for run in cut}
    assert slot["probe_retried"] == slot["probe_once"]
    os.kill(worker.proc.pid, signal.SIGKILL)
    killed, killed_at = time.monotonic(), timezone.now()
    try:
        second = hub.worker(name="w2")
        second.wait_for_line(
            rf"Slot {re.escape(slot['probe_once'].isoformat())} of probe_once already claimed",
            VISIBILITY_TIMEOUT + RUN_BOUND,
        )
        redelivered = time.monotonic() - killed
        pool_survived = [pid for pid in pool if alive(pid)]
        support.wait_until(
            lambda: ProbeRun.objects.filter(
                job_id="probe_retried", attempt=2, finished_at__isnull=False
            ).exists(),
            RUN_BOUND,
            "attempt 2 of the cut slot",
        )
        first = ProbeRun.objects.filter(pid__in=pids_of(second)).order_by("started_at").first()
        recovery = (first.started_at - killed_at).total_seconds()
        for job_id in jobs:
            wait_for_slots(probe_slots(job_id) + 2, job_id)
        end = min(ledger_end(job_id) for job_id in jobs)
    finally:
        for pid in pool:  # orphans, should any outlive their parent
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    assert pool_survived == []
    retried = JobRun.objects.get(job_id="probe_retried", scheduled_at=slot["probe_retried"])
    assert (retried.status, retried.attempt) == (JobRun.SUCCEEDED, 2)
    assert retried.attempts[0]["error"].startswith("interrupted: owner ")
    once = JobRun.objects.get(job_id="probe_once", scheduled_at=slot["probe_once"])
    assert once.status == JobRun.INTERRUPTED
    assert once.summary.startswith("interrupted: owner ") and "stopped heartbeating" in once.summary
    assert (
        ProbeRun.objects.filter(scheduled_at=slot["probe_once"], job_id="probe_once").count() == 1
    )

    fault_report.check_ledger(
        8,
        jobs,
        start,
        end,
        recovery=round(recovery, 1),
        note=f"pool processes died with the main one; unacked messages back after "
        f"{redelivered:.0f}s (visibility timeout {VISIBILITY_TIMEOUT}s); cut slot: attempt 2 "
        "where allowed, else recorded interrupted",
    )


def pids_of(worker: support.Process) -> set[int]:
    """The pool processes of a worker: the children of its main process."""
    import subprocess

    out = subprocess.run(
        ["pgrep", "-P", str(worker.proc.pid)], capture_output=True, text=True, timeout=10
    ).stdout
    return {int(pid) for pid in out.split()}


# --- 9. Beat killed right after a send ---------------------------------------------------
def executed_but_recorded_missed(job_id: str) -> list:
    """Slots that ran although a `missed` record covers them: a record that lies."""
    executed = set(ProbeRun.objects.filter(job_id=job_id).values_list("scheduled_at", flat=True))
    ranges = JobRun.objects.filter(job_id=job_id, status=JobRun.MISSED).values_list(
        "scheduled_at", "missed_until"
    )
    return sorted(s for s in executed for first, until in ranges if first <= s <= until)


@pytest.mark.timeout(180)
def test_beat_killed_a_second_after_a_send_doubles_no_slot_and_loses_none(
    hub, redis_server, fault_report
):
    """SIGKILL on beat one second after a message reached Redis: the send is not in beat's
    bookkeeping yet (written every 5 s), and the messages still wait for a worker. The
    restarted beat sends from where the run history and the bookkeeping say; a slot sent
    twice runs once (its claim), and no queued slot is recorded missed and run too."""
    probe(interval=1)
    start = timezone.now()
    monitor = support.Process(["redis-cli", "-p", str(redis_server.port), "MONITOR"])
    try:
        monitor.wait_for_line(r"^OK", 10)
        first = hub.beat()  # no worker yet: what it sends waits in Redis
        mark = len(monitor.lines)
        monitor.wait_for_line(r'"LPUSH" "default"', RUN_BOUND, mark)
        time.sleep(1)  # the fault: one second after a send
        os.kill(first.proc.pid, signal.SIGKILL)
        killed_at = timezone.now()
        queued = celery_tests.queued_slots(hub)
        hub.beat()
        hub.worker()
        support.wait_until(lambda: first_run_after(killed_at), RUN_BOUND, "a run after the kill")
        recovery = (first_run_after(killed_at).started_at - killed_at).total_seconds()
        wait_for_slots(probe_slots() + 3)
    finally:
        monitor.stop()
    end = ledger_end()
    executed = set(ProbeRun.objects.values_list("scheduled_at", flat=True))
    # Every slot sent before the kill runs (inside its grace), none is taken for unsent.
    assert sorted(set(queued) - executed) == []
    assert executed_but_recorded_missed("probe_1") == []

    fault_report.check_ledger(
        9,
        ["probe_1"],
        start,
        end,
        recovery=round(recovery, 1),
        note=f"beat SIGKILLed 1 s after a send, {len(queued)} run(s) queued; restarted at once",
    )
