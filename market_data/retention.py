"""What market data is past its retention, for the hub's `cleanup_old_data` job.

The job (in the scheduler, which finds this function through its registry's `RETENTION`)
deletes what is returned here in small batches, each its own short transaction.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .models import Candle


def expired_data(days: int | None = None) -> list[tuple[str, models.QuerySet]]:
    """Candles that opened more than `days` (default MARKET_DATA_RETENTION_DAYS) ago, with
    the words the cleanup's summary uses for them."""
    days = settings.MARKET_DATA_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    return [(f"candles older than {days} days", Candle.objects.filter(open_time__lt=cutoff))]
