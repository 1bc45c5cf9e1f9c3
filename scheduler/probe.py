"""The probe task, for tests and benchmarks: it leaves one ledger row per execution."""

import os
import time
from datetime import datetime

from django.utils import timezone

from .models import ProbeRun


def probe(job_id: str, slot: datetime, attempt: int, sleep: float = 0, fail: bool = False) -> str:
    """Insert a `ProbeRun` as soon as it starts, committed at once (autocommit), so even an
    execution that dies later is counted; sleep `sleep` seconds, then mark it finished.
    `fail=True` raises after the sleep, to exercise failure recording."""
    row = ProbeRun.objects.create(
        job_id=job_id,
        scheduled_at=slot,
        attempt=attempt,
        pid=os.getpid(),
        started_at=timezone.now(),
    )
    if sleep:
        time.sleep(sleep)
    if fail:
        raise RuntimeError(f"probe {job_id} asked to fail")
    ProbeRun.objects.filter(pk=row.pk).update(finished_at=timezone.now())
    return f"probe slot {slot.isoformat()} attempt {attempt}"
