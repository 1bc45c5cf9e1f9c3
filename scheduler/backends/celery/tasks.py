"""The one Celery task: run a slot through the execution path.

Loaded by every worker through the `CELERY_IMPORTS` setting.

Beat sends `RUN_TASK` with the job id and the slot; the worker calls
`scheduler.execution.run_job`, which claims the slot, runs it, retries it per the schedule's
policy and records it, exactly as under APScheduler. Delivery is at least once (late
acknowledgement, requeued when the worker process dies); the claim makes a second delivery
of a slot a no-op while its run is alive, or the next attempt when it died.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime

from billiard.exceptions import SoftTimeLimitExceeded
from celery import shared_task

from ... import execution
from ...runs import heartbeat

logger = logging.getLogger("scheduler")

# The task's registered name: in every message beat sends, and in the messages still
# waiting in Redis from before any deploy, so it never changes.
RUN_TASK = "scheduler.run_job"
# The worker's soft time limit is how a run over its timeout is stopped on Celery; the
# execution path records a run it stopped as timed out.
STOPPED_BY = (SoftTimeLimitExceeded,)

_heartbeat_pid: int | None = None
_heartbeat_lock = threading.Lock()


def ensure_heartbeat() -> None:
    """Start, once per worker process, the thread that stamps this process's running
    claims every `SCHEDULER_HEARTBEAT_SECONDS`, so a live run is never taken for dead and
    a run whose process died is noticed within three beats. A forked child starts its own
    (the pid check)."""
    global _heartbeat_pid
    with _heartbeat_lock:
        if _heartbeat_pid == os.getpid():
            return
        _heartbeat_pid = os.getpid()
        forever = threading.Event()
        threading.Thread(
            target=heartbeat.stamp_until, args=(forever,), name="claims-heartbeat", daemon=True
        ).start()


@shared_task(name=RUN_TASK, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: str, slot: str) -> str | None:
    """Run slot `slot` (ISO 8601) of job `job_id`; returns the recorded status."""
    ensure_heartbeat()
    return execution.run_job(job_id, slot=datetime.fromisoformat(slot), stopped_by=STOPPED_BY)
