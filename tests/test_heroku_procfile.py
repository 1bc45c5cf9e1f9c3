"""The Procfile run locally the way Heroku runs it, with honcho: the build's
collectstatic, the release phase, then `web` and two `worker` dynos on the Celery
backend, with production settings, PostgreSQL and Redis on loopback."""

import re
import signal
import subprocess

import pytest
from django.utils import timezone

from scheduler.models import ProbeRun, Schedule
from tests import support

from .heroku import answers, get, production_env

pytestmark = [pytest.mark.subprocess, pytest.mark.postgres_only]

BOOT_BOUND = 90  # web and two workers with embedded beats, on a loaded 2-core machine
LATE = 2  # seconds from a slot to its run, once started


@pytest.fixture
def dyno_env(redis_server, tmp_path, settings):
    settings.SCHEDULER_BACKEND = "celery"  # this process writes schedules as the web does
    Schedule.objects.all().delete()  # only this test's job runs
    (tmp_path / "empty.env").write_text("")  # never a developer's .env
    return production_env(
        SCHEDULER_BACKEND="celery",
        REDIS_URL=redis_server.url,
        STATIC_ROOT=str(tmp_path / "static"),
        SCHEDULER_HEARTBEAT_SECONDS="1",
    ), str(tmp_path / "empty.env")


def test_release_then_web_and_two_workers_serve_styled_pages_and_fire_each_slot_once(dyno_env):
    env, empty = dyno_env
    # The buildpack's build step, then the release phase: `honcho run` stops when its
    # command exits, so it runs alone before the long-running types.
    build = subprocess.run(
        ["python", "manage.py", "collectstatic", "--noinput", "-v0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    release = subprocess.run(
        ["honcho", "run", "-e", empty, *support.procfile_command("release")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert release.returncode == 0, release.stdout + release.stderr
    assert "No migrations to apply" in release.stdout

    port = support.free_port()
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=1)
    honcho = support.Process(
        ["honcho", "start", "-e", empty, "-p", str(port), "-c", "worker=2", "web", "worker"],
        env=env,
    )
    try:
        support.wait_until(lambda: answers(port), BOOT_BOUND, "the web dyno to answer on $PORT")
        support.wait_until(
            lambda: ProbeRun.objects.count() >= 5, BOOT_BOUND, "the worker's beat to fire"
        )
        start = ProbeRun.objects.earliest("scheduled_at").scheduled_at
        plain, _ = get(port, "/admin/login/", https=False)
        page, html = get(port, "/admin/login/")
        css_path = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', html)
        assert css_path, html[:2000]
        css, body = get(port, css_path[1].decode(), **{"Accept-Encoding": "gzip"})
        support.wait_until(lambda: ProbeRun.objects.count() >= 10, 30, "ten probe runs")
        end = timezone.now() - timezone.timedelta(seconds=2)
        # Read before stopping: while one worker stops, the other's beat rightly takes over.
        running_output = honcho.output
    finally:
        honcho.stop(signal.SIGTERM, timeout=40)

    # https only: plain http is sent to https, https gets HSTS and secure cookies.
    assert plain.status == 301
    assert plain.getheader("Location") == f"https://127.0.0.1:{port}/admin/login/"
    assert page.status == 200
    assert "max-age=31536000" in page.getheader("Strict-Transport-Security")
    assert "Secure" in page.getheader("Set-Cookie")
    # Styled with DEBUG=False: whitenoise serves the hashed, compressed stylesheet.
    assert css.status == 200
    assert css.getheader("Content-Type").startswith("text/css")
    assert css.getheader("Content-Encoding") == "gzip"
    assert "immutable" in css.getheader("Cache-Control")
    # Two workers, two embedded beats, one scheduler lock: one beat sent every slot once.
    assert running_output.count("Scheduler lock acquired by") == 1, running_output
    assert "worker.2 |" in running_output and "standing by" in running_output
    assert support.duplicates() == []
    assert support.lost("probe_1", start, end) == []


def test_a_redis_that_drops_idle_connections_costs_no_slot(redis_dropping_idle, settings):
    """Hosted Redis (Upstash, Heroku) closes connections left idle: here after 2 s, while
    the job fires every 3 s, so connections are cut between sends and made again."""
    settings.SCHEDULER_BACKEND = "celery"
    Schedule.objects.all().delete()
    Schedule.objects.create(job_id="probe_1", task="probe", interval_seconds=3)
    env = support.subprocess_env(SCHEDULER_BACKEND="celery", REDIS_URL=redis_dropping_idle.url)
    processes = []
    try:
        processes.append(support.celery_worker(env))
        processes.append(support.manage("runscheduler", env=env))
        support.wait_until(lambda: ProbeRun.objects.exists(), 60, "the first run")
        start = ProbeRun.objects.earliest("scheduled_at").scheduled_at
        support.wait_until(lambda: ProbeRun.objects.count() >= 6, 40, "six runs, 15 s on")
        end = timezone.now() - timezone.timedelta(seconds=2)
    finally:
        for process in reversed(processes):
            process.stop()
    stats = redis_dropping_idle.cli("INFO", "stats")
    reconnects = int(re.search(r"total_connections_received:(\d+)", stats)[1])
    assert reconnects >= 15, reconnects  # the server did cut them: 10 are made without cuts
    assert support.duplicates() == []
    assert support.lost("probe_1", start, end) == []
    lateness = [
        (run.started_at - run.scheduled_at).total_seconds()
        for run in ProbeRun.objects.order_by("scheduled_at")
    ]
    assert max(lateness[1:]) < LATE, lateness  # after the start, a reconnect costs little
