"""The probe task, for tests and benchmarks: it leaves one ledger row per execution."""

import os
import time
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .models import JobRun, ProbeRun


def probe(job_id: str, slot: datetime, sleep: float = 0, fail: bool = False) -> str:
    """Insert a `ProbeRun` in its own committed transaction as soon as it starts (so even
    an execution that dies later is counted), sleep `sleep` seconds, then mark it finished.
    `fail=True` raises after the sleep, to exercise failure recording."""
    with transaction.atomic():
        attempt = (
            JobRun.objects.filter(job_id=job_id, scheduled_at=slot)
            .values_list("attempt", flat=True)
            .first()
            or 1
        )
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
