"""Fixtures for the scheduler's tests."""

import pytest

from scheduler.runs import health as jobhealth


@pytest.fixture(autouse=True)
def forget_healthy_jobs():
    """Each test starts with no job remembered as healthy (a process-wide shortcut)."""
    jobhealth._healthy.clear()
    yield
    jobhealth._healthy.clear()
