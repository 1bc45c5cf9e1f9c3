"""What a recorded outcome leaves besides its `JobRun` row: the job's counters (for
`/metrics`) and its health (the failure streak, with an alert on each change of state).

Every writer of an outcome calls one function here once its write succeeded, so a run's
after-effects happen in one place, once. Neither can fail the run: both log their errors.
"""

from __future__ import annotations

from datetime import datetime

from ..models import JobRun
from . import counters, health


def finished(run: JobRun, status: str, finished_at: datetime, summary: str) -> None:
    """A run that ended (executed, or skipped at the overlap limit)."""
    counters.finished(run, status, finished_at)
    health.record_outcome(run.job_id, status, summary)


def interrupted(job_ids: list[str], reason: str) -> None:
    """Runs marked interrupted: their owner died, or the scheduler stopped."""
    counters.interrupted(job_ids)
    for job_id in job_ids:
        health.record_outcome(job_id, JobRun.INTERRUPTED, reason)


def missed(job_id: str, slots: int, new_record: bool = True) -> None:
    """A missed record of `slots` slots, or `slots` more on an existing one."""
    counters.missed(job_id, slots, new_record)


def duplicate(job_id: str) -> None:
    """A slot fired again while its claim was held: suppressed, not run twice."""
    counters.duplicate(job_id)
