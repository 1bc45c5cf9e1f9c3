"""Slots: the times a schedule is due, computed in one place for every engine.

A slot is the time a run was due. For an interval schedule it is `anchor + k × interval`
(k ≥ 0), the anchor being stored on the schedule so a restart never moves the grid. For a
cron schedule it is a cron fire time in the schedule's time zone, always on a whole minute.
Both engines are handed these values, so a slot is the same whichever engine fires it, and
it is the key of the run's claim.

The functions here take plain values (no models) so they are cheap to test and to pickle
inside an engine's trigger.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MIN_INTERVAL = 1
MAX_INTERVAL = 31 * 24 * 3600

# name, lowest, highest — in the order cron writes them.
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day_of_month", 1, 31),
    ("month", 1, 12),
    ("day_of_week", 0, 6),  # 0 = Sunday, as in crontab; 7 is accepted as Sunday too
)
_DOW_NAMES = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_MONTH_NAMES = {n.lower(): i for i, n in enumerate(calendar.month_abbr) if n}
# Cron never needs to look further ahead than this to find the next match (a 29 February
# on a given weekday recurs within 28 years); it bounds the search for impossible dates.
_SEARCH_DAYS = 366 * 29


class CronError(ValueError):
    """A cron field that cannot be parsed or is out of range."""


def parse_cron_field(text: str, name: str) -> frozenset[int]:
    """Parse one cron field (`*`, `*/15`, `1-5`, `1,3,5`, `10-50/10`, `mon-fri`) into the
    set of values it allows; raise `CronError` with the reason when it is out of range."""
    lo, hi = next((lo, hi) for n, lo, hi in CRON_FIELDS if n == name)
    names = _DOW_NAMES if name == "day_of_week" else _MONTH_NAMES if name == "month" else {}
    top = 7 if name == "day_of_week" else hi
    text = (text or "").strip().lower()
    if not text:
        raise CronError(f"{name.replace('_', ' ')} is empty")
    values: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise CronError(f"bad step {step_text!r} in {name.replace('_', ' ')}")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        else:
            first, _, last = base.partition("-")
            start = _cron_value(first, names, name)
            end = _cron_value(last, names, name) if last else (hi if step_text else start)
            for v in (start, end):
                if not lo <= v <= top:
                    raise CronError(
                        f"{name.replace('_', ' ')} value {v} is out of range {lo}-{top}"
                    )
            if end < start:
                raise CronError(f"range {base!r} runs backwards")
        values.update(range(start, end + 1, step))
    if name == "day_of_week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def _cron_value(text: str, names: dict[str, int], field: str) -> int:
    if text.isdigit():
        return int(text)
    if text in names:
        return names[text]
    raise CronError(f"{text!r} is not a valid {field.replace('_', ' ')}")


def zone(name: str) -> ZoneInfo:
    """The time zone called `name`, or `ValueError` naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


@dataclass(frozen=True)
class Timing:
    """What a schedule's slots depend on, and nothing else: an engine's trigger keeps one.

    `kind` is "interval" (with `interval_seconds` and `anchor`) or "cron" (with the five
    cron fields and `timezone`).
    """

    kind: str
    interval_seconds: int | None = None
    anchor: datetime | None = None
    minute: str = "*"
    hour: str = "*"
    day_of_month: str = "*"
    month: str = "*"
    day_of_week: str = "*"
    timezone: str = "UTC"

    def describe(self) -> str:
        """The trigger in a few words, as the logs and admin show it."""
        if self.kind == "interval":
            return f"every {_duration_words(self.interval_seconds)}"
        fields = (self.minute, self.hour, self.day_of_month, self.month, self.day_of_week)
        return f"cron {' '.join(fields)} {self.timezone}"

    def next_slot(self, after: datetime, *, inclusive: bool = False) -> datetime | None:
        """The first slot after `after` (or at it, when `inclusive`), in UTC."""
        after = after.astimezone(UTC)
        if self.kind == "interval":
            return _next_interval_slot(self.anchor, self.interval_seconds, after, inclusive)
        return _next_cron_slot(self, after, inclusive)

    def slot_at_or_before(self, moment: datetime) -> datetime | None:
        """The latest slot not after `moment` (None before the first one)."""
        moment = moment.astimezone(UTC)
        if self.kind == "interval":
            anchor = self.anchor.astimezone(UTC)
            if moment < anchor:
                return None
            k = int((moment - anchor).total_seconds()) // self.interval_seconds
            return anchor + timedelta(seconds=k * self.interval_seconds)
        # Cron: step back a day at a time until a slot before `moment` is found.
        probe = moment - timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            slot = self.next_slot(probe)
            if slot is not None and slot <= moment:
                latest = slot
                while (nxt := self.next_slot(latest)) is not None and nxt <= moment:
                    latest = nxt
                return latest
            probe -= timedelta(days=1)
        return None


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def next_whole_second(moment: datetime) -> datetime:
    """`moment` rounded up: a new anchor is never already in the past, so a job started
    "immediately" has its first slot still ahead when the scheduler picks it up."""
    floor = whole_second(moment)
    return floor if floor == moment else floor + timedelta(seconds=1)


def _duration_words(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _next_interval_slot(
    anchor: datetime, interval: int, after: datetime, inclusive: bool
) -> datetime:
    anchor = anchor.astimezone(UTC)
    if after < anchor or (inclusive and after == anchor):
        return anchor
    elapsed = (after - anchor).total_seconds()
    k = int(elapsed // interval)
    slot = anchor + timedelta(seconds=k * interval)
    if slot < after or (slot == after and not inclusive):
        slot += timedelta(seconds=interval)
    return slot


def _next_cron_slot(timing: Timing, after: datetime, inclusive: bool) -> datetime | None:
    """Walk days in the schedule's zone and, on matching days, its hours and minutes.

    Local times are turned into instants with `fold=0`: a time skipped by a spring-forward
    shift fires just after the shift, and a time repeated by a fall-back shift fires at its
    first occurrence — and at its second too when the hour field is a wildcard.
    """
    tz = zone(timing.timezone)
    minutes = sorted(parse_cron_field(timing.minute, "minute"))
    hours = sorted(parse_cron_field(timing.hour, "hour"))
    doms = parse_cron_field(timing.day_of_month, "day_of_month")
    months = parse_cron_field(timing.month, "month")
    dows = parse_cron_field(timing.day_of_week, "day_of_week")
    # Like Vixie cron: when both day fields are restricted, either may match (a field
    # starting with "*", such as "*/2", counts as unrestricted).
    dom_any = timing.day_of_month.strip().startswith("*")
    dow_any = timing.day_of_week.strip().startswith("*")
    # A time repeated by a fall-back shift runs twice for jobs with a wildcard hour (they
    # run every hour that passes), once for jobs at a fixed hour.
    folds = (0, 1) if timing.hour.strip().startswith("*") else (0,)

    local_after = after.astimezone(tz)
    day: date = local_after.date() - timedelta(days=1)  # the day before covers DST folds
    for _ in range(_SEARCH_DAYS):
        if day.month in months:
            dom_ok = day.day in doms
            dow_ok = (day.isoweekday() % 7) in dows
            matches = (dom_ok and dow_ok) if (dom_any or dow_any) else (dom_ok or dow_ok)
            if matches:
                # The minimum, not the first in local order: a shifted gap time can land
                # after a later local time of the same day.
                due = [
                    slot
                    for h in hours
                    for m in minutes
                    for fold in folds
                    if (
                        slot := datetime.combine(day, time(h, m, fold=fold), tzinfo=tz).astimezone(
                            UTC
                        )
                    )
                    > after
                    or (inclusive and slot == after)
                ]
                if due:
                    return min(due)
        day += timedelta(days=1)
    return None


def count_slots(timing: Timing, first: datetime, last: datetime, cap: int = 1_000_000) -> int:
    """How many slots lie in [first, last], both being slots. Arithmetic for intervals; cron
    steps through them (up to `cap`, beyond which the count says "at least")."""
    if last < first:
        return 0
    if timing.kind == "interval":
        return int((last - first).total_seconds()) // timing.interval_seconds + 1
    count, slot = 0, first
    while slot is not None and slot <= last and count < cap:
        count += 1
        slot = timing.next_slot(slot)
    return count
