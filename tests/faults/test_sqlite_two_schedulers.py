"""Fault 16: the embedded default (SQLite) with two `runscheduler` processes and a web
process writing through the JSON API the whole time.

The file lock lets one scheduler fire while the other stands by, and every writer waits
for SQLite's lock instead of failing with "database is locked". test_restarts.py covers one
scheduler with the test itself writing; this runs the real web server, two schedulers and
strategies that write their own runs, for 30 s.
"""

import json
import time
import urllib.error
import urllib.request

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from scheduler.models import ProbeRun
from scheduler.web import tokens
from strategies.models import Strategy
from tests import support

pytestmark = pytest.mark.subprocess

WINDOW = 30  # seconds of writing while both schedulers run (the issue's 60, halved)
PROBES = 20


@pytest.fixture
def sqlite_only(transactional_db):
    if connection.vendor != "sqlite":
        pytest.skip("this fault is SQLite's: it runs in the SQLite pass")


def web_server() -> tuple[support.Process, str]:
    """The web process: gunicorn with two workers on the test's SQLite file."""
    web, url = support.gunicorn(2)
    web.wait_for_line(r"Booting worker", timeout=30)
    return web, url


def post(url: str, token: str, body: dict | None = None) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body or {}).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.timeout(180)
def test_two_schedulers_and_a_writing_web_process_fire_once_without_database_is_locked(
    sqlite_only, scheduler_process, django_user_model, fault_report
):
    call_command("probe", "--count", str(PROBES), "--interval", "1", verbosity=0)
    strategies = [
        Strategy.objects.create(name=f"S{n}", symbol="BTC/USDT", interval_seconds=2)
        for n in range(4)
    ]
    admin = django_user_model.objects.create_superuser("ops", "", "pw-for-tests-only")
    _, token = tokens.issue(admin, "fault 16")

    first = scheduler_process()
    second = support.manage("runscheduler")
    web, base = web_server()
    try:
        second.wait_for_line(r"standing by", timeout=30)
        started = timezone.now()
        deadline = time.monotonic() + WINDOW
        answers = []
        active = set()
        while time.monotonic() < deadline:
            for strategy in strategies:
                action = "stop" if strategy.pk in active else "start"
                answers.append(post(f"{base}/api/v1/strategies/{strategy.pk}/{action}", token))
                active ^= {strategy.pk}
        ended = timezone.now()
        support.wait_until(
            lambda: ProbeRun.objects.filter(scheduled_at__gte=ended).count() >= PROBES,
            15,
            "a full round of probes after the window",
        )
    finally:
        web.stop()
        second.stop()
        first.stop()

    outputs = {"first": first.output, "second": second.output, "web": web.output}
    for name, output in outputs.items():
        assert "database is locked" not in output, f"{name}:\n{output}"
        assert "Traceback" not in output, f"{name}:\n{output}"
    holders = [name for name, out in outputs.items() if "Scheduler lock acquired" in out]
    assert holders == ["first"], holders
    assert set(answers) == {200}, sorted(set(answers))
    assert len(answers) >= 20, "the web process wrote too little to be a fault"
    assert set(ProbeRun.objects.values_list("pid", flat=True)) == {first.proc.pid}

    fault_report.check_ledger(
        16,
        [f"probe_{n}" for n in range(1, PROBES + 1)],
        started,
        ended,
        note=f"{len(answers)} API writes, 2 schedulers, gunicorn -w 2",
    )
