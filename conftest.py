"""Fixtures shared by every app's tests."""

import pytest

from scheduler.testing import manage


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


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test accounts need no slow, strong hash."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
