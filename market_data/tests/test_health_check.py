import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.utils import timezone

from market_data.jobs import collect_crypto_data
from scheduler.jobs import health_check
from scheduler.models import HealthReport, SchedulerState

pytestmark = pytest.mark.django_db
NOW = datetime(2025, 3, 10, 12, 34, 56, tzinfo=UTC)


@pytest.fixture
def scheduler_alive():
    SchedulerState.record_holder("web-1:42", "apscheduler")


def checks(report: HealthReport) -> dict[str, tuple[str, str]]:
    return {c["name"]: (c["status"], c["message"]) for c in report.checks}


@time_machine.travel(NOW, tick=False)
def test_all_is_well_after_a_collection_and_the_report_is_kept(btc, scheduler_alive):
    btc.timeframes = "1m,1h"
    btc.save()
    async_to_sync(collect_crypto_data)()
    summary = health_check()
    report = HealthReport.latest()
    assert report.status == "ok" and summary.startswith("ok: database: answered in")
    found = checks(report)
    assert found["broker"] == ("ok", "not used (apscheduler backend)")
    assert found["scheduler"][0] == "ok" and "web-1:42" in found["scheduler"][1]
    assert found["data freshness"] == ("ok", "2 series fresh")


def test_stale_and_missing_data_is_a_warning_naming_the_series(btc, scheduler_alive):
    with time_machine.travel(NOW, tick=False):
        async_to_sync(collect_crypto_data)()
    btc.timeframes = "1h,4h"
    btc.save()
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        SchedulerState.holder_seen("web-1:42")
        health_check()
    report = HealthReport.latest()
    assert report.status == "warn"
    status, message = checks(report)["data freshness"]
    assert status == "warn"
    assert message.startswith("2 of 2 series stale: ")
    assert "simulated BTC/USDT 1h (335 min old)" in message  # closed 12:00, now 17:35
    assert "simulated BTC/USDT 4h (no candles)" in message


def test_no_scheduler_or_a_silent_one_fails_the_check(db):
    health_check()
    assert checks(HealthReport.latest())["scheduler"] == (
        "fail",
        "no process holds the scheduler lock",
    )
    SchedulerState.record_holder("web-1:42", "apscheduler")
    SchedulerState.objects.update(holder_seen_at=timezone.now() - timedelta(minutes=5))
    health_check()
    report = HealthReport.latest()
    assert report.status == "fail"
    status, message = checks(report)["scheduler"]
    assert status == "fail" and "heartbeat 300s ago (over 15s)" in message


def test_the_broker_is_checked_on_the_celery_backend(db, settings, scheduler_alive):
    from tests.support import free_port

    settings.SCHEDULER_BACKEND = "celery"
    settings.CELERY_BROKER_URL = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing there
    started = time.monotonic()
    health_check()
    assert time.monotonic() - started < 10  # bounded, never a hang
    status, message = checks(HealthReport.latest())["broker"]
    assert (status, message) == ("fail", "broker unreachable: ConnectionError")
    assert "hunter2" not in message


@pytest.mark.django_db(transaction=True)
def test_a_collection_refreshes_the_health_report_at_once(btc, scheduler_alive):
    """A fresh hub: the hourly report said "no candles"; the first collection's success
    judges the data again, without waiting for the next hourly check."""
    from scheduler.execution import run_job

    health_check()
    assert checks(HealthReport.latest())["data freshness"][0] == "warn"
    assert run_job("collect_crypto_data") == "succeeded"
    report = HealthReport.latest()
    assert checks(report)["data freshness"] == ("ok", "1 series fresh")
    assert HealthReport.objects.count() == 2
    # A task that brings no data, or a failed collection, leaves the report alone.
    assert run_job("update_exchange_symbols") is not None
    assert HealthReport.objects.count() == 2
