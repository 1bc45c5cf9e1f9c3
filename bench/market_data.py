"""Market-data benchmark: candle upserts, retention cleanup, collection of 100 symbols.

Prints JSON, one object per database:
- upsert: candles per second through `Candle.objects.upsert_many` in batches of 1,000,
  for new candles (inserts) and for the same candles again (conflict → update);
- cleanup: `cleanup_old_data`'s candle deletion over N old candles (default 1,000,000):
  total seconds and the longest single transaction (one batch);
- collection: `collect_crypto_data` for 100 tracked symbols (1h) on the simulated
  provider: a fresh database (500 candles each), then an incremental run.

    .venv/bin/python bench/market_data.py
    .venv/bin/python bench/market_data.py \\
        --database-url postgres://postgres@127.0.0.1:5432/altar_bench_md

Without --database-url, SQLite in a temporary folder. With a PostgreSQL URL that database
is dropped and created afresh. Each database runs in its own process (Django is configured
once per process); `--both URL` runs SQLite and then PostgreSQL at URL.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import django_on, on_sqlite_and_postgres  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--both", metavar="POSTGRES_URL", default="")
    parser.add_argument("--batches", type=int, default=50, help="upsert batches of 1,000")
    parser.add_argument("--cleanup-rows", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=100)
    args = parser.parse_args()
    if args.both:
        options = ["--batches", str(args.batches), "--cleanup-rows", str(args.cleanup_rows)]
        options += ["--symbols", str(args.symbols)]
        results = on_sqlite_and_postgres(__file__, args.both, *options)
        print(json.dumps(results, indent=2))
        return
    print(json.dumps(run(args), indent=2))


def run(args):
    django_on(args.database_url)
    from django.db import connection

    result = {"database": connection.vendor}
    result["upsert"] = bench_upsert(args.batches)
    result["cleanup"] = bench_cleanup(args.cleanup_rows)
    result["collection"] = bench_collection(args.symbols)
    return result


def bench_upsert(batches):
    from decimal import Decimal

    from market_data.models import Candle, Exchange, Symbol

    exchange = Exchange.objects.create(ccxt_id="binance")
    symbol = Symbol.objects.create(exchange=exchange, symbol="BTC/USDT")
    start = 1_700_000_000_000 - 1_700_000_000_000 % 60_000
    rows = [
        (
            start + i * 60_000,
            Decimal("43519.34000000"),
            Decimal("43936.00000000"),
            Decimal("43171.00000000"),
            Decimal("43488.71000000"),
            Decimal("20.55495000"),
        )
        for i in range(batches * 1000)
    ]
    figures = {}
    for label in ("insert", "update"):
        started = time.perf_counter()
        for b in range(batches):
            Candle.objects.upsert_many(symbol, "1m", rows[b * 1000 : (b + 1) * 1000])
        took = time.perf_counter() - started
        figures[f"{label}_candles_per_second"] = round(len(rows) / took)
    figures["candles"] = len(rows)
    figures["batch_size"] = 1000
    symbol.delete()  # leave the cleanup figure to its own candles
    return figures


def bench_cleanup(count):
    """Fill `count` old candles with one SQL statement (the fill is not measured), then
    time the retention cleanup."""
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from market_data.models import Candle, Exchange, Symbol
    from market_data.retention import delete_in_batches

    exchange = Exchange.objects.create(ccxt_id="kraken")
    symbol = Symbol.objects.create(exchange=exchange, symbol="ETH/USDT")
    table = Candle._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (symbol_id, timeframe, open_time, open, high, low, close,"
                " volume) SELECT %s, '1m', TIMESTAMPTZ '2015-01-01' + n * INTERVAL '1 minute',"
                " 1, 2, 1, 1, 10 FROM generate_series(0, %s - 1) AS n",
                [symbol.pk, count],
            )
        else:
            cursor.execute(
                f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s)"
                f" INSERT INTO {table} (symbol_id, timeframe, open_time, open, high, low, close,"
                " volume) SELECT %s, '1m', datetime(1420070400 + i * 60, 'unixepoch'),"
                " 1, 2, 1, 1, 10 FROM n",
                [count - 1, symbol.pk],
            )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")
    cutoff = timezone.now() - timedelta(days=settings.MARKET_DATA_RETENTION_DAYS)
    started = time.perf_counter()
    deleted, longest = delete_in_batches(Candle.objects.filter(open_time__lt=cutoff))
    return {
        "candles_deleted": deleted,
        "batch_size": settings.CLEANUP_BATCH_SIZE,
        "total_seconds": round(time.perf_counter() - started, 2),
        "longest_transaction_seconds": round(longest, 3),
    }


def bench_collection(count):
    from asgiref.sync import async_to_sync

    from market_data.jobs import collect_crypto_data
    from market_data.models import Exchange, Symbol
    from market_data.providers.simulated import MARKETS

    exchange = Exchange.objects.create(ccxt_id="simulated")
    names = list(MARKETS)[:count]
    Symbol.objects.bulk_create(
        Symbol(exchange=exchange, symbol=name, tracked=True, timeframes="1h") for name in names
    )
    figures = {"symbols": len(names)}
    for label in ("fresh", "incremental"):
        started = time.perf_counter()
        summary = async_to_sync(collect_crypto_data)()
        figures[f"{label}_seconds"] = round(time.perf_counter() - started, 2)
        figures[f"{label}_summary"] = summary
    return figures


if __name__ == "__main__":
    main()
