"""Built-in schedules exist after `migrate`, with their final defaults, and survive edits."""

import pytest
from django.core.management import call_command

from scheduler.models import Schedule

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_guides_four_jobs_with_their_defaults():
    rows = {s.job_id: s for s in Schedule.objects.all()}
    assert set(rows) == {
        "collect_crypto_data",
        "cleanup_old_data",
        "health_check",
        "update_exchange_symbols",
    }
    collect, cleanup = rows["collect_crypto_data"], rows["cleanup_old_data"]
    assert (collect.kind, collect.interval_seconds) == ("interval", 600)
    assert (collect.max_attempts, collect.queue, collect.misfire_grace_seconds) == (
        3,
        "market_data",
        60,
    )
    assert (cleanup.kind, cleanup.cron_hour, cleanup.cron_minute) == ("cron", "3", "0")
    assert cleanup.misfire_grace_seconds == 3600
    assert rows["health_check"].interval_seconds == 3600
    symbols = rows["update_exchange_symbols"]
    assert (symbols.cron_hour, symbols.misfire_grace_seconds, symbols.queue) == (
        "1",
        3600,
        "market_data",
    )
    assert all(s.enabled for s in rows.values())


def test_a_second_migrate_keeps_an_admins_edits_and_restores_a_deleted_row():
    Schedule.objects.filter(job_id="health_check").update(interval_seconds=120, enabled=False)
    Schedule.objects.filter(job_id="cleanup_old_data").delete()
    call_command("migrate", verbosity=0)
    health = Schedule.objects.get(job_id="health_check")
    assert (health.interval_seconds, health.enabled) == (120, False)
    assert Schedule.objects.filter(job_id="cleanup_old_data").exists()


def test_the_cron_jobs_run_in_the_scheduler_time_zone(settings):
    settings.SCHEDULER_TIMEZONE = "Europe/Rome"
    cleanup = Schedule.objects.get(job_id="cleanup_old_data")
    assert cleanup.describe_trigger() == "cron 0 3 * * * Europe/Rome"
    from zoneinfo import ZoneInfo

    assert cleanup.next_fire_time().astimezone(ZoneInfo("Europe/Rome")).hour == 3
