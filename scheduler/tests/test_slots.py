from datetime import UTC, datetime, timedelta

import pytest

from scheduler.slots import CronError, Timing, parse_cron_field


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_interval_slots_stay_on_the_anchor_grid():
    timing = Timing(kind="interval", interval_seconds=600, anchor=at(2026, 1, 1, 0, 0, 7))
    assert timing.next_slot(at(2026, 3, 1, 12, 3)) == at(2026, 3, 1, 12, 10, 7)
    assert timing.next_slot(at(2026, 3, 1, 12, 10, 7)) == at(2026, 3, 1, 12, 20, 7)
    assert timing.next_slot(at(2026, 3, 1, 12, 10, 7), inclusive=True) == at(2026, 3, 1, 12, 10, 7)
    assert timing.slot_at_or_before(at(2026, 3, 1, 12, 19)) == at(2026, 3, 1, 12, 10, 7)


def test_the_anchor_itself_is_the_first_slot():
    anchor = at(2026, 5, 1, 9)
    timing = Timing(kind="interval", interval_seconds=300, anchor=anchor)
    assert timing.next_slot(anchor - timedelta(hours=1)) == anchor
    assert timing.slot_at_or_before(anchor - timedelta(seconds=1)) is None


def test_daily_cron_fires_at_its_local_time_across_daylight_saving():
    timing = Timing(kind="cron", minute="0", hour="3", timezone="Europe/Rome")
    before = timing.next_slot(at(2026, 3, 28, 12))
    after = timing.next_slot(before)
    # 03:00 in Rome is 02:00 UTC in winter, 01:00 UTC from 29 March (summer time).
    assert before == at(2026, 3, 29, 1)
    assert after == at(2026, 3, 30, 1)
    assert timing.next_slot(at(2026, 3, 27, 12)) == at(2026, 3, 28, 2)


def test_a_local_time_skipped_by_the_spring_shift_fires_once_just_after_it():
    timing = Timing(kind="cron", minute="30", hour="2", timezone="Europe/Rome")
    slot = timing.next_slot(at(2026, 3, 28, 12))
    assert slot == at(2026, 3, 29, 1, 30)
    assert timing.next_slot(slot) == at(2026, 3, 30, 0, 30)


def test_weekday_names_ranges_and_steps():
    assert parse_cron_field("mon-fri", "day_of_week") == {1, 2, 3, 4, 5}
    assert parse_cron_field("*/15", "minute") == {0, 15, 30, 45}
    assert parse_cron_field("10-50/20,5", "minute") == {5, 10, 30, 50}
    assert parse_cron_field("7", "day_of_week") == {0}
    timing = Timing(kind="cron", minute="0", hour="9", day_of_week="mon")
    assert timing.next_slot(at(2026, 11, 26)) == at(2026, 11, 30, 9)  # the next Monday


@pytest.mark.parametrize(
    "text,field",
    [
        ("60", "minute"),
        ("24", "hour"),
        ("0", "day_of_month"),
        ("13", "month"),
        ("8", "day_of_week"),
        ("5-1", "hour"),
        ("*/0", "minute"),
        ("abc", "minute"),
        ("", "hour"),
    ],
)
def test_bad_cron_fields_are_refused_with_a_reason(text, field):
    with pytest.raises(CronError):
        parse_cron_field(text, field)


def test_descriptions_read_as_words():
    assert (
        Timing(kind="interval", interval_seconds=600, anchor=at(2026, 1, 1)).describe()
        == "every 10m"
    )
    assert (
        Timing(kind="interval", interval_seconds=90, anchor=at(2026, 1, 1)).describe()
        == "every 90s"
    )
    assert Timing(kind="cron", minute="0", hour="3").describe() == "cron 0 3 * * * UTC"


def test_an_hourly_job_runs_in_both_repeated_hours_when_clocks_go_back():
    timing = Timing(kind="cron", minute="0", hour="*", timezone="Europe/Rome")
    slot, fired = at(2026, 10, 24, 22), []
    while slot < at(2026, 10, 25, 3):
        slot = timing.next_slot(slot)
        fired.append(slot)
    # 02:00 local happens twice on 25 October: 00:00 and 01:00 UTC; every hour runs.
    assert fired[:5] == [
        at(2026, 10, 24, 23),
        at(2026, 10, 25, 0),
        at(2026, 10, 25, 1),
        at(2026, 10, 25, 2),
        at(2026, 10, 25, 3),
    ]


def test_a_restricted_day_of_month_with_a_stepped_weekday_matches_on_the_day_only():
    timing = Timing(kind="cron", minute="0", hour="0", day_of_month="1", day_of_week="*/2")
    assert timing.next_slot(at(2026, 11, 26)) == at(2026, 12, 1)
