"""Per-job counters for `/metrics`, written as runs end.

Each finished run adds to its job's counters in one upsert (`JobCounter.objects.add`):
its status, and its duration and start lag each into one histogram bucket (the seconds
added to that bucket's total). Buckets are stored one row each, not cumulative;
`scheduler.metrics` adds them up, and derives each histogram's sum and count, at scrape
time. A counter failure is logged and never changes the run.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from ..models import JobCounter, JobRun

logger = logging.getLogger("scheduler")

# Upper bounds (seconds). Durations span a probe's milliseconds to the daily jobs' minutes;
# start lag is how late the engine fired, normally well under a second.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, math.inf)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, math.inf)

RUNS = "runs"
MISSED_SLOTS = "missed_slots"
DUPLICATES = "duplicates_suppressed"
DURATION = "duration"
LAG = "lag"


def bucket_label(bound: float) -> str:
    return "+Inf" if bound == math.inf else repr(float(bound))


def _observe(name: str, buckets: tuple, seconds: float) -> list[tuple]:
    """One row: the bucket `seconds` falls in, counted once, `seconds` added to its total."""
    seconds = max(seconds, 0.0)
    bound = next(b for b in buckets if seconds <= b)
    return [(name, bucket_label(bound), 1, seconds)]


def _add(job_id: str, increments: list[tuple]) -> None:
    try:
        JobCounter.objects.add(job_id, increments)
    except Exception:
        logger.exception("Could not update the counters of %s", job_id)


def finished(run: JobRun, status: str, finished_at: datetime) -> None:
    """Count a run that ended (any status but missed): its status, and for runs that
    executed, their duration and — first attempts only — their start lag."""
    increments = [(RUNS, status, 1)]
    if status != JobRun.SKIPPED and run.started_at is not None:
        increments += _observe(
            DURATION, DURATION_BUCKETS, (finished_at - run.started_at).total_seconds()
        )
        if run.attempt == 1:
            lag = (run.started_at - run.scheduled_at).total_seconds()
            increments += _observe(LAG, LAG_BUCKETS, lag)
    _add(run.job_id, increments)


def interrupted(job_ids: list[str]) -> None:
    """Count runs marked interrupted (their owner died, or the scheduler stopped)."""
    for job_id in job_ids:
        _add(job_id, [(RUNS, JobRun.INTERRUPTED, 1)])


def missed(job_id: str, slots: int, new_record: bool = True) -> None:
    """Count a missed record (`runs{missed}`) and the slots it covers (an extended range
    adds slots, not a record)."""
    _add(job_id, ([(RUNS, JobRun.MISSED, 1)] if new_record else []) + [(MISSED_SLOTS, "", slots)])


def duplicate(job_id: str) -> None:
    """Count a slot fired again while its claim was held: suppressed, not run twice."""
    _add(job_id, [(DUPLICATES, "", 1)])
