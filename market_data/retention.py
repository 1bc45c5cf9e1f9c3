"""Deleting old rows in bounded batches.

Each batch is its own short transaction (a `DELETE … WHERE id IN (…)` of at most
`CLEANUP_BATCH_SIZE` ids found through an index), so a cleanup of millions of rows never
holds locks long enough to stall the scheduler's writes or the web.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from .models import Candle, HealthReport


def delete_in_batches(queryset: models.QuerySet, batch: int | None = None) -> tuple[int, float]:
    """Delete `queryset`'s rows `batch` at a time; return (rows deleted, longest batch in
    seconds)."""
    batch = batch or settings.CLEANUP_BATCH_SIZE
    model = queryset.model
    total, longest = 0, 0.0
    while True:
        started = time.monotonic()
        with transaction.atomic():
            ids = list(queryset.values_list("pk", flat=True)[:batch])
            if ids:
                total += model.objects.filter(pk__in=ids).delete()[0]
        longest = max(longest, time.monotonic() - started)
        if len(ids) < batch:
            return total, longest


def delete_old_market_data(days: int | None = None) -> str:
    """Delete candles that opened more than `days` (default MARKET_DATA_RETENTION_DAYS) ago,
    and health reports past the run-history retention; return a summary."""
    days = settings.MARKET_DATA_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    candles, _ = delete_in_batches(Candle.objects.filter(open_time__lt=cutoff))
    report_cutoff = timezone.now() - timedelta(days=settings.RUN_HISTORY_RETENTION_DAYS)
    reports, _ = delete_in_batches(HealthReport.objects.filter(created_at__lt=report_cutoff))
    return f"{candles} candles older than {days} days, {reports} health reports"
