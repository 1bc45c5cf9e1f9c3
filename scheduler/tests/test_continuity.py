"""Where a job resumes after the scheduler was stopped, and how the gap is recorded."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from scheduler.models import JobRun, Schedule
from scheduler.runs.continuity import resume_point

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


def every_minute(**fields) -> Schedule:
    with time_machine.travel(T0, tick=False):
        return Schedule.objects.create(
            job_id="probe_1", task="probe", interval_seconds=60, anchor=T0, **fields
        )


def ran(schedule, slot):
    JobRun.objects.create(job_id=schedule.job_id, scheduled_at=slot, status=JobRun.SUCCEEDED)


def missed_records():
    return list(
        JobRun.objects.filter(status=JobRun.MISSED).values_list(
            "scheduled_at", "missed_count", "missed_until"
        )
    )


def test_after_a_stop_the_latest_slot_inside_grace_runs_and_the_rest_is_one_missed_record():
    schedule = every_minute()
    ran(schedule, T0)
    ran(schedule, T0 + timedelta(minutes=1))
    now = T0 + timedelta(minutes=10, seconds=20)  # slots 2..10 were due while stopped
    resume = resume_point(schedule, now)
    assert resume == T0 + timedelta(minutes=10)  # 20 s late: inside the 60 s grace
    assert missed_records() == [(T0 + timedelta(minutes=2), 8, T0 + timedelta(minutes=9))]


def test_when_even_the_latest_slot_is_past_grace_every_due_slot_is_missed():
    schedule = every_minute(misfire_grace_seconds=10)
    ran(schedule, T0)
    now = T0 + timedelta(minutes=5, seconds=30)
    assert resume_point(schedule, now) == T0 + timedelta(minutes=6)
    assert missed_records() == [(T0 + timedelta(minutes=1), 5, T0 + timedelta(minutes=5))]


def test_no_gap_means_no_record_and_the_next_slot():
    schedule = every_minute()
    ran(schedule, T0)
    assert resume_point(schedule, T0 + timedelta(seconds=30)) == T0 + timedelta(minutes=1)
    assert missed_records() == []


def test_a_missed_range_counts_as_recorded_so_a_second_start_adds_nothing():
    schedule = every_minute(misfire_grace_seconds=10)
    ran(schedule, T0)
    now = T0 + timedelta(minutes=5, seconds=30)
    resume_point(schedule, now)
    assert resume_point(schedule, now) == T0 + timedelta(minutes=6)
    assert len(missed_records()) == 1


def test_slots_while_a_schedule_was_disabled_are_not_missed():
    schedule = every_minute()
    ran(schedule, T0)
    with time_machine.travel(T0 + timedelta(minutes=1, seconds=5), tick=False):
        schedule.enabled = False
        schedule.save()
    with time_machine.travel(T0 + timedelta(hours=3, seconds=10), tick=False):
        schedule.enabled = True
        schedule.save()
    resume = resume_point(schedule, T0 + timedelta(hours=3, seconds=20))
    assert resume == T0 + timedelta(hours=3, minutes=1)
    assert missed_records() == []


def test_a_daily_job_restarted_at_three_past_three_still_runs_its_cleanup():
    with time_machine.travel(datetime(2026, 6, 1, 2, 0, tzinfo=UTC), tick=False):
        schedule = Schedule.objects.get(job_id="cleanup_old_data")
        schedule.enabled_at = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
        schedule.save()
    now = datetime(2026, 6, 1, 3, 3, tzinfo=UTC)
    assert resume_point(schedule, now) == datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    assert missed_records() == []


@pytest.mark.parametrize("day", [datetime(2026, 3, 29), datetime(2026, 10, 25)])
def test_a_daily_0300_job_in_rome_fires_once_on_each_daylight_saving_day(settings, day):
    """Walk the trigger through the transition day as the clock moves, like the engine."""
    settings.SCHEDULER_TIMEZONE = "Europe/Rome"
    rome = ZoneInfo("Europe/Rome")
    start = day.replace(tzinfo=rome) - timedelta(days=1)
    with time_machine.travel(start, tick=False):
        schedule = Schedule.objects.get(job_id="cleanup_old_data")
    fired = []
    moment = start
    while moment < start + timedelta(days=3):
        with time_machine.travel(moment, tick=False):
            slot = schedule.next_fire_time(now=moment)
        fired.append(slot)
        ran(schedule, slot)
        moment = slot + timedelta(seconds=1)
    local = [slot.astimezone(rome) for slot in fired if slot < start + timedelta(days=3)]
    on_the_day = [t for t in local if t.date() == day.date()]
    assert [t.strftime("%H:%M") for t in on_the_day] == ["03:00"]
    assert all(t.strftime("%H:%M") == "03:00" for t in local)
    assert len({t.date() for t in local}) == len(local)
