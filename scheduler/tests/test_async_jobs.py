"""`async def` jobs: their own event loop, the ORM through Django's async adapters, timeouts."""

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from scheduler import registry
from scheduler.execution import run_job
from scheduler.models import JobRun, Schedule
from tests import support

ORM_THREADS: list[int] = []
WORKER_THREADS: list[int] = []


async def count_schedules(job_id: str) -> str:
    """An async job that uses the async ORM and reports where its ORM calls ran."""
    count = await Schedule.objects.acount()
    exists = await JobRun.objects.filter(job_id=job_id, status="running").aexists()
    ORM_THREADS.append(await sync_to_async(threading.get_ident)())
    await asyncio.sleep(0.3)  # both jobs are in flight at once
    return f"{count} schedules, own claim visible: {exists}"


async def sleep_async(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "woke up"


async def own_timeout() -> str:
    raise TimeoutError("exchange did not answer")


def sleep_sync(seconds: float) -> str:
    time.sleep(seconds)
    return "woke up"


@pytest.fixture
def tasks(monkeypatch):
    seconds = (registry.Argument("seconds", float, 0, 60),)
    for name, arguments in (
        ("count_schedules", ()),
        ("sleep_async", seconds),
        ("sleep_sync", seconds),
        ("own_timeout", ()),
    ):
        task = registry.Task(f"scheduler.tests.test_async_jobs.{name}", arguments)
        monkeypatch.setitem(registry.TASKS, name, task)


def now_slot():
    return timezone.now().replace(microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_async_jobs_use_the_orm_each_in_its_own_worker_thread(tasks):
    ORM_THREADS.clear()
    WORKER_THREADS.clear()
    for n in (1, 2):
        Schedule.objects.create(job_id=f"async_{n}", task="count_schedules", interval_seconds=60)
    slot = now_slot()

    def work(job_id):
        WORKER_THREADS.append(threading.get_ident())
        run_job(job_id, slot=slot)

    threads = [support.in_thread(work, f"async_{n}") for n in (1, 2)]
    for thread in threads:
        thread.join(10)

    runs = JobRun.objects.filter(job_id__startswith="async_")
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert all("own claim visible: True" in r.summary for r in runs)
    # Each job's ORM calls ran in the worker thread that ran the job: not all in one.
    assert sorted(ORM_THREADS) == sorted(WORKER_THREADS)
    assert len(set(ORM_THREADS)) == 2


@pytest.mark.django_db
def test_an_async_job_over_its_timeout_is_cancelled_and_recorded_timed_out(tasks):
    Schedule.objects.create(
        job_id="slow",
        task="sleep_async",
        kwargs={"seconds": 30},
        interval_seconds=60,
        timeout_seconds=1,
    )
    started = time.monotonic()
    assert run_job("slow", slot=now_slot()) == JobRun.TIMED_OUT
    assert time.monotonic() - started < 5
    run = JobRun.objects.get(job_id="slow")
    assert run.summary == "timed out after 1s (cancelled)"
    assert run.finished_at is not None


@pytest.mark.django_db
def test_a_sync_job_over_its_timeout_is_recorded_timed_out_when_it_returns(tasks):
    Schedule.objects.create(
        job_id="slow",
        task="sleep_sync",
        kwargs={"seconds": 1.2},
        interval_seconds=60,
        timeout_seconds=1,
    )
    assert run_job("slow", slot=now_slot()) == JobRun.TIMED_OUT
    summary = JobRun.objects.get(job_id="slow").summary
    assert summary.startswith("timed out: took 1.2s, over its 1s timeout; woke up")


@pytest.mark.django_db
def test_an_async_job_inside_its_timeout_succeeds(tasks):
    Schedule.objects.create(
        job_id="quick", task="sleep_async", kwargs={"seconds": 0.01}, interval_seconds=60
    )
    assert run_job("quick", slot=now_slot()) == JobRun.SUCCEEDED
    assert JobRun.objects.get(job_id="quick").summary == "woke up"


@pytest.mark.django_db
def test_a_timeout_raised_by_the_job_itself_is_a_failure_with_its_traceback(tasks):
    Schedule.objects.create(job_id="flaky", task="own_timeout", interval_seconds=60)
    assert run_job("flaky", slot=now_slot()) == JobRun.FAILED
    run = JobRun.objects.get(job_id="flaky")
    assert run.summary == "TimeoutError: exchange did not answer"
    assert "Traceback" in run.traceback
