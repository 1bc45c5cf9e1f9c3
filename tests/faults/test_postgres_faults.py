"""Faults 3 and 4 of issue 10: PostgreSQL restarted under the hub, and every connection of
the hub terminated in the middle of a run.

The hub (`runscheduler`; for the Celery backend a worker and beat with a private Redis)
runs against a database on a private PostgreSQL cluster (`support.PrivatePostgres`), never
the shared server, since the tests restart it. The test reads that database through an
extra Django alias, `hub`, registered for the duration of a test; the probe ledger is read
there (`using=HUB`).
"""

import itertools
import os
import re
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.db.utils import load_backend
from django.utils import timezone

from scheduler.models import JobRun, ProbeRun
from tests import support

pytestmark = [pytest.mark.postgres_only]

HUB = "hub"  # the Django alias of the hub's database on the private cluster
TEMPLATE = "hub_template"  # migrated once per module, copied for each test
RECOVERY_BOUND = 15  # the bound: back to firing within 15 s, without a restart
START_BOUND = 60  # a loaded 2-core machine: Django, Celery and APScheduler start slowly
CONNECTION_ERRORS = re.compile(r"connection already closed|server closed the connection")
_names = itertools.count(1)


@pytest.fixture(scope="module")
def cluster():
    """A private cluster with a migrated template database; removed after the module."""
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL faults need PostgreSQL (DATABASE_URL=postgres://...)")
    if why := support.PrivatePostgres.available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why}, and CI=true: failing")
        pytest.skip(f"no private PostgreSQL cluster: {why}")
    server = support.PrivatePostgres()
    try:
        server.start()
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input"],
            cwd=support.BASE_DIR,
            env=support.subprocess_env(DATABASE_URL=server.createdb(TEMPLATE)),
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        yield server
    finally:
        server.remove()


@pytest.fixture
def hub_db(cluster, transactional_db):
    """A fresh copy of the migrated template for this test, reachable in this thread as
    the `hub` alias; returns its name and DATABASE_URL.

    The alias is a connection made here rather than an entry in DATABASES: Django's test
    case refuses connections to configured aliases it was not told about, and allows
    connections made at runtime; nothing else (flushes, test databases) then touches it."""
    name = f"hub_{next(_names)}"
    url = cluster.createdb(name, template=TEMPLATE)
    hub_settings = {
        **connection.settings_dict,
        "NAME": name,
        "HOST": "127.0.0.1",
        "PORT": str(cluster.port),
        "USER": cluster.USER,
        "PASSWORD": "",
        "CONN_MAX_AGE": 0,
    }
    connections[HUB] = load_backend(hub_settings["ENGINE"]).DatabaseWrapper(hub_settings, HUB)
    try:
        yield name, url
    finally:
        connections[HUB].close()
        del connections[HUB]


class Hub:
    """The hub's processes on the private database; all stopped at teardown."""

    def __init__(self, cluster, name: str, url: str, **env: str):
        self.cluster = cluster
        self.name = name
        self.env = support.subprocess_env(DATABASE_URL=url, SCHEDULER_HEARTBEAT_SECONDS="1", **env)
        self.processes: list[support.Process] = []

    def probes(self, count: int = 1, interval: int = 1, sleep: float = 0) -> list[str]:
        """`manage.py probe` on the hub's database; returns the job ids."""
        args = ["--count", str(count), "--interval", str(interval), "--sleep", str(sleep)]
        made = subprocess.run(
            [sys.executable, "manage.py", "probe", *args],
            cwd=support.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert made.returncode == 0, made.stdout + made.stderr
        return [f"probe_{n}" for n in range(1, count + 1)]

    def scheduler(self) -> support.Process:
        """`manage.py runscheduler` (celery beat under the Celery backend), started."""
        self.processes.append(support.manage("runscheduler", env=self.env))
        self.processes[-1].wait_for_line(r"Background scheduler started", START_BOUND)
        return self.processes[-1]

    def worker(self) -> support.Process:
        """A Celery worker (prefork, two processes), ready."""
        self.processes.append(support.celery_worker(self.env))
        return self.processes[-1]

    def lock_holders(self) -> list[str]:
        """Application names of the sessions holding an advisory lock in the hub's
        database (the scheduler lock is the only one)."""
        rows = self.cluster.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = %s",
            [self.name],
        )
        return [row[0] for row in rows]

    def terminate_all(self) -> int:
        """`pg_terminate_backend` on every session of the hub's database but our own;
        returns how many were ended."""
        connections[HUB].close()
        rows = self.cluster.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.name],
        )
        return sum(1 for (ended,) in rows if ended)

    def output(self) -> str:
        """Every process's output, for a failure message."""
        return "\n\n".join(f"$ {' '.join(p.args)}\n{p.output}" for p in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def hub(cluster, hub_db):
    """`hub(**env)` makes the test's `Hub` (extra settings in `env`); its processes are
    stopped at teardown, before the database goes."""
    made = []

    def make(**env: str) -> Hub:
        made.append(Hub(cluster, *hub_db, **env))
        return made[-1]

    yield make
    for each in made:
        each.stop()


def runs(**filters):
    return ProbeRun.objects.using(HUB).filter(**filters)


def wait_for_runs(count: int, bound: float, **filters) -> None:
    support.wait_until(lambda: runs(**filters).count() >= count, bound, f"{count} probe runs")


def restart_and_measure(cluster, job_ids: list[str], scheduler: support.Process) -> float:
    """Restart the cluster (`pg_ctl restart -m fast`) while the probes run; return the
    recovery: seconds from the restart's start to the first probe run fired after the
    scheduler (or beat) took its lock again. A slot sent just before it noticed the loss
    may run earlier; that is not yet the hub firing on.

    The restart starts just before a whole second, when one-second slots are due, so a
    slot is usually being sent or run as the server goes down (the hard case)."""
    time.sleep((1.8 - timezone.now().microsecond / 1e6) % 1)  # to the next x.8 s
    mark = len(scheduler.lines)
    restarted = timezone.now()
    cluster.restart("fast")
    connections[HUB].close()  # our own session went with the restart too
    scheduler.wait_for_line(r"Scheduler lock acquired by", RECOVERY_BOUND, start=mark)
    relocked = timezone.now()
    first = support.wait_until(
        lambda: runs(job_id__in=job_ids, started_at__gt=relocked).order_by("started_at").first(),
        RECOVERY_BOUND,
        "the first probe run after the lock was taken again",
    )
    return (first.started_at - restarted).total_seconds()


def connection_errors(process: support.Process, since: int) -> list[str]:
    """Connection errors `process` logged from line `since` on (taken once the hub fired
    on after the restart): a hub that recovered logs none, one that reuses a dead connection
    logs them for ever. A line saying it is reconnecting is not one: each thread's first
    use of its connection after the restart may say so, once."""
    return [
        line
        for line in process.lines[since:]
        if CONNECTION_ERRORS.search(line) and "reconnecting" not in line
    ]


# --- Fault 3: PostgreSQL restarted ------------------------------------------------------------
def test_the_scheduler_rides_out_a_postgresql_restart_without_being_restarted(hub, fault_report):
    """`pg_ctl restart -m fast` cuts every session, the scheduler lock's included. The same
    `runscheduler` process must notice, take the lock again, and fire on within 15 s;
    slots during the outage run once or are recorded missed."""
    hub = hub()
    job_ids = hub.probes(count=2, interval=1)
    scheduler = hub.scheduler()
    wait_for_runs(4, START_BOUND, job_id__in=job_ids)
    start = runs(job_id__in=job_ids).earliest("scheduled_at").scheduled_at
    recovery = restart_and_measure(hub.cluster, job_ids, scheduler)
    recovered, since = len(scheduler.lines), timezone.now()
    wait_for_runs(6, RECOVERY_BOUND, job_id__in=job_ids, started_at__gt=since)
    end = timezone.now() - timedelta(seconds=2)

    assert scheduler.proc.poll() is None, scheduler.output  # the same process, never restarted
    assert recovery < RECOVERY_BOUND
    assert connection_errors(scheduler, recovered) == []
    holders = hub.lock_holders()
    assert len(holders) == 1 and f":{scheduler.proc.pid}" in holders[0], holders
    fault_report.check_ledger(
        3,
        job_ids,
        start,
        end,
        recovery=recovery,
        note="runscheduler (APScheduler)",
        using=HUB,
        context=hub.output,
    )


def test_celery_worker_and_beat_ride_out_a_postgresql_restart_without_being_restarted(
    hub, redis_server, fault_report
):
    """The same restart under the Celery backend: beat (`runscheduler`) and the worker
    keep their pids, beat holds the lock again, and the worker's task connections are
    replaced instead of failing every run with "connection already closed"."""
    hub = hub(SCHEDULER_BACKEND="celery", REDIS_URL=redis_server.url)
    job_ids = hub.probes(count=2, interval=1)
    worker = hub.worker()
    beat = hub.scheduler()
    wait_for_runs(4, START_BOUND, job_id__in=job_ids)
    start = runs(job_id__in=job_ids).earliest("scheduled_at").scheduled_at
    recovery = restart_and_measure(hub.cluster, job_ids, beat)
    recovered, since = (len(worker.lines), len(beat.lines)), timezone.now()
    wait_for_runs(6, RECOVERY_BOUND, job_id__in=job_ids, started_at__gt=since)
    end = timezone.now() - timedelta(seconds=2)

    assert worker.proc.poll() is None, worker.output
    assert beat.proc.poll() is None, beat.output
    assert recovery < RECOVERY_BOUND
    assert connection_errors(worker, recovered[0]) == []
    assert connection_errors(beat, recovered[1]) == []
    holders = hub.lock_holders()
    assert len(holders) == 1 and f":{beat.proc.pid}" in holders[0], holders
    fault_report.check_ledger(
        3,
        job_ids,
        start,
        end,
        recovery=recovery,
        note="Celery worker + beat",
        using=HUB,
        context=hub.output,
    )


def test_a_run_in_flight_across_a_postgresql_restart_is_recorded_and_the_next_slot_runs(
    hub, fault_report
):
    """The restart lands while a 3 s run is going: the run's last write fails, and its
    outcome is written once the server is back (the bounded reconnect), not left
    `running` for good; the next slot runs."""
    hub = hub()
    job_ids = hub.probes(count=1, interval=5, sleep=3)
    scheduler = hub.scheduler()

    cut, following, recovery = cut_every_connection_mid_run(
        hub, job_ids[0], [scheduler], cut=restart_the_server
    )

    fault_report.check_ledger(
        3,
        job_ids,
        cut.scheduled_at,
        following.scheduled_at,
        recovery=recovery,
        note=f"a run in flight across the restart, recorded {cut.status}",
        using=HUB,
        context=hub.output,
    )


# --- Fault 4: every connection of the hub terminated mid-run -----------------------------------
def terminate_every_session(hub: Hub) -> None:
    """End every session of the hub's database (the run's own connection, the scheduler
    lock's, the change listener's, a worker's heartbeat)."""
    assert hub.terminate_all() >= 2  # at least the run's connection and the lock session


def restart_the_server(hub: Hub) -> None:
    hub.cluster.restart("fast")
    connections[HUB].close()  # our own session went with the restart too


def cut_every_connection_mid_run(
    hub: Hub, job_id: str, processes: list[support.Process], cut=terminate_every_session
):
    """While a run of `job_id` (3 s long) is in flight, `cut(hub)` its connections.
    Returns the cut run's `JobRun` once it is recorded, the next slot's finished probe
    row, and the recovery: seconds from the cut until a run was going again (that next
    slot's start, so it depends on when that slot falls due)."""
    in_flight = support.wait_until(
        lambda: runs(job_id=job_id, finished_at=None).first(), START_BOUND, "a run in flight"
    )
    cut_at = timezone.now()
    cut(hub)
    cut = support.wait_until(
        lambda: (
            JobRun.objects.using(HUB)
            .filter(job_id=job_id, scheduled_at=in_flight.scheduled_at)
            .exclude(status=JobRun.RUNNING)
            .first()
        ),
        RECOVERY_BOUND,
        "the cut run recorded (not left running)",
    )
    following = support.wait_until(
        lambda: (
            runs(job_id=job_id, scheduled_at__gt=in_flight.scheduled_at)
            .exclude(finished_at=None)
            .order_by("scheduled_at")
            .first()
        ),
        RECOVERY_BOUND,
        "the next slot run to the end",
    )
    for process in processes:
        assert process.proc.poll() is None, process.output  # nothing crashed or restarted
    assert cut.status in (JobRun.FAILED, JobRun.INTERRUPTED), (cut.status, cut.summary)
    assert re.search(r"terminat|connection|interrupted", cut.summary), cut.summary
    return cut, following, (following.started_at - cut_at).total_seconds()


def test_terminating_every_hub_connection_mid_run_records_that_run_and_the_next_slot_runs(
    hub, fault_report
):
    """Every session of the scheduler's database ended while a run is in flight: the
    run's last write fails, and it must be recorded failed (on a new connection) with a
    readable summary rather than stay `running` for good; the scheduler takes its lock
    again and the next slot runs."""
    hub = hub()
    job_ids = hub.probes(count=1, interval=5, sleep=3)
    scheduler = hub.scheduler()

    cut, following, recovery = cut_every_connection_mid_run(hub, job_ids[0], [scheduler])

    fault_report.check_ledger(
        4,
        job_ids,
        cut.scheduled_at,
        following.scheduled_at,
        recovery=recovery,
        note=f"runscheduler (APScheduler); cut run {cut.status}: {cut.summary[:60]}",
        using=HUB,
        context=hub.output,
    )


def test_terminating_every_hub_connection_mid_run_on_celery_records_it_and_runs_on(
    hub, redis_server, fault_report
):
    """The same under the Celery backend: the run is on a worker, whose task connection
    and heartbeat connection are ended as well as beat's lock session."""
    hub = hub(SCHEDULER_BACKEND="celery", REDIS_URL=redis_server.url)
    job_ids = hub.probes(count=1, interval=5, sleep=3)
    worker = hub.worker()
    beat = hub.scheduler()

    cut, following, recovery = cut_every_connection_mid_run(hub, job_ids[0], [worker, beat])

    fault_report.check_ledger(
        4,
        job_ids,
        cut.scheduled_at,
        following.scheduled_at,
        recovery=recovery,
        note=f"Celery worker + beat; cut run {cut.status}: {cut.summary[:60]}",
        using=HUB,
        context=hub.output,
    )
