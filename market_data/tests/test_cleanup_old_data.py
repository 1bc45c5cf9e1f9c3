from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from market_data.models import Candle
from market_data.timeframes import to_ms
from scheduler.jobs import cleanup_old_data
from scheduler.models import HealthReport, JobRun

pytestmark = pytest.mark.django_db


def candles(symbol, start, count):
    one = Decimal(1)
    base = to_ms(start) - to_ms(start) % 3_600_000
    rows = [(base + i * 3_600_000, one, one, one, one, one) for i in range(count)]
    Candle.objects.upsert_many(symbol, "1h", rows)


def test_it_deletes_old_candles_and_runs_in_small_batches_and_keeps_the_rest(btc, settings):
    settings.MARKET_DATA_RETENTION_DAYS = 30
    settings.RUN_HISTORY_RETENTION_DAYS = 7
    settings.CLEANUP_BATCH_SIZE = 10
    now = timezone.now()
    candles(btc, now - timedelta(days=40), 25)  # old
    candles(btc, now - timedelta(days=2), 5)  # recent
    JobRun.objects.create(job_id="a", scheduled_at=now - timedelta(days=8), status="succeeded")
    JobRun.objects.create(job_id="b", scheduled_at=now - timedelta(days=8), status="running")
    JobRun.objects.create(job_id="c", scheduled_at=now - timedelta(days=1), status="failed")
    HealthReport.objects.create(status="ok", summary="old", created_at=now - timedelta(days=9))

    with CaptureQueriesContext(connection) as queries:
        summary = cleanup_old_data()
    assert summary == (
        "deleted 1 run records and 0 probe rows older than 7 days, "
        "25 candles older than 30 days, 1 health reports"
    )
    assert btc.candles.count() == 5
    assert set(JobRun.objects.values_list("job_id", flat=True)) == {"b", "c"}
    assert not HealthReport.objects.exists()
    # 25 old candles in batches of at most 10: three DELETEs, each in its own transaction.
    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE") and "candle" in q["sql"]]
    assert len(deletes) == 3
