"""Fixtures shared by every app's tests."""

import os
import secrets
import shutil

import pytest
from django.conf import settings
from django.db import connection

from tests import support
from tests.support import manage

# The suites schedule `probe`, a diagnostic task: offered here and in every process the
# tests start (they inherit the environment), never by default.
settings.SCHEDULER_DIAGNOSTIC_TASKS = True
os.environ["SCHEDULER_DIAGNOSTIC_TASKS"] = "true"


@pytest.fixture
def strategy(db):
    from strategies.models import Strategy

    return Strategy.objects.create(name="Trend", symbol="BTC/USDT", interval_seconds=1)


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("staff", "", "pw-for-tests-only")
    client.force_login(user)
    return client


@pytest.fixture
def scheduler_process(transactional_db):
    """A real `manage.py runscheduler` on the test database, started and ready.

    It depends on `transactional_db`, so the data a test writes is committed where the
    subprocess can see it, and the process is stopped before the database is flushed.
    """
    started = []

    def start(*extra_args, env=None):
        process = manage("runscheduler", *extra_args, env=env)
        started.append(process)
        process.wait_for_line(r"Background scheduler started", timeout=30)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def redis_server(transactional_db):
    """A private `redis-server` (the Celery backend's broker) for a PostgreSQL test."""
    server = start_redis()
    yield server
    server.remove()


@pytest.fixture
def redis_with_password(transactional_db):
    """The same, asking clients for a password, as hosted Redis does."""
    server = start_redis(password=secrets.token_hex(16))
    yield server
    server.remove()


@pytest.fixture
def redis_dropping_idle(transactional_db):
    """One that closes a connection once it has been idle for 2 s, as hosted Redis does
    after a few minutes."""
    server = start_redis(idle_timeout=1)
    yield server
    server.remove()


def start_redis(password: str = "", idle_timeout: int = 0) -> support.RedisServer:
    if connection.vendor != "postgresql":
        pytest.skip("the Celery backend tests need PostgreSQL (DATABASE_URL=postgres://...)")
    if shutil.which("redis-server") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed, and CI=true: failing")
        pytest.skip("redis-server is not installed: the Celery backend tests need it")
    return support.RedisServer(password, idle_timeout).start()


@pytest.fixture
def fault_report(request):
    """This test's rows in the fault report (tests/faults/report.py)."""
    from tests.faults.report import FaultReport

    report = FaultReport(request.node.nodeid)
    yield report
    report.save()


@pytest.fixture(autouse=True)
def served_over_plain_http(settings):
    """The test client and live server speak plain http, as a local run behind no proxy
    does (SECURE_SSL_REDIRECT=false). Production's https settings have their own tests."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test accounts need no slow, strong hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
