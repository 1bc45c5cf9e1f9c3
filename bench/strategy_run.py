"""Strategy benchmark: the cost of one strategy run, and backtest speed, on recorded candles.

Prints JSON, one object per database:
- run: `--runs` consecutive runs of one strategy (sma_crossover 10/30) with 500 candles of
  history (`STRATEGY_HISTORY_CANDLES`), each judging one new closed candle, through the
  scheduler's `run_job` (slot claim, the run, its record, the failure bookkeeping) and,
  separately, the strategy's own work alone (`trading.run`): median and p99 wall time and
  database queries per run. Candles: the real BTC-like 5m series
  (freqtrade-orderflow-candles_5m.csv), stored beforehand, so no run fetches;
- backtest: candles per second of `run_backtest` for each algorithm over the longest
  recorded series (bittrex_ETC-BTC_1m.csv, 13,681 one-minute candles).

    .venv/bin/python bench/strategy_run.py
    .venv/bin/python bench/strategy_run.py \\
        --database-url postgres://postgres@127.0.0.1:5432/altar_bench_strategy
    .venv/bin/python bench/strategy_run.py --both postgres://postgres@127.0.0.1:5432/altar_bench_strategy

Without --database-url, SQLite in a temporary folder. With a PostgreSQL URL that database
is dropped and created afresh. The recorded candles are read in place from SHARED_DATA_DIR
(default ../shared/data).
"""

import argparse
import csv
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engines import django_on, on_sqlite_and_postgres  # noqa: E402

# (file in SHARED_DATA_DIR, exchange id, symbol, timeframe): pinned, so what is stored
# matches the file whatever else the folder holds.
RUN_SERIES = ("freqtrade-orderflow-candles_5m.csv", "binance", "BTC/USDT", "5m")
BACKTEST_SERIES = ("bittrex_ETC-BTC_1m.csv", "bittrex", "ETC/BTC", "1m")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--both", metavar="POSTGRES_URL", default="")
    parser.add_argument("--runs", type=int, default=300, help="runs measured each way")
    args = parser.parse_args()
    if args.both:
        results = on_sqlite_and_postgres(__file__, args.both, "--runs", str(args.runs))
        print(json.dumps(results, indent=2))
        return
    print(json.dumps(run(args), indent=2))


def run(args):
    django_on(args.database_url)
    from django.conf import settings
    from django.db import connection

    folder = Path(settings.SHARED_DATA_DIR)
    return {
        "database": connection.vendor,
        "history_candles": settings.STRATEGY_HISTORY_CANDLES,
        "run": bench_runs(folder, RUN_SERIES, args.runs),
        "backtest": bench_backtest(folder, BACKTEST_SERIES),
    }


def read_rows(path: Path) -> list[tuple]:
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(int(row[0]), *(Decimal(v) for v in row[1:6])) for row in reader]


def store(path: Path, exchange_id: str, symbol: str, timeframe: str) -> list[tuple]:
    from market_data.models import Candle, Exchange, Symbol

    exchange, _ = Exchange.objects.get_or_create(ccxt_id=exchange_id)
    row, _ = Symbol.objects.get_or_create(exchange=exchange, symbol=symbol)
    rows = read_rows(path)
    Candle.objects.upsert_many(row, timeframe, rows)
    return rows


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def bench_runs(folder: Path, series: tuple[str, str, str, str], runs: int) -> dict:
    import time_machine
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from market_data.timeframes import timeframe_ms
    from scheduler.execution import run_job
    from strategies import trading
    from strategies.models import Signal, Strategy

    name, exchange, symbol, timeframe = series
    rows = store(folder / name, exchange, symbol, timeframe)
    strategy = Strategy.objects.create(
        name="Bench", exchange=exchange, symbol=symbol, timeframe=timeframe, interval_seconds=60
    )
    strategy.start()
    step = timedelta(milliseconds=timeframe_ms(timeframe))
    first = 600  # 500 candles of history before the first judged one

    def measure(call, start: int) -> dict:
        times, queries = [], []
        for i in range(start, start + runs):
            moment = datetime.fromtimestamp(rows[i][0] / 1000, tz=UTC) + step
            moment += timedelta(seconds=2)
            with time_machine.travel(moment, tick=False), CaptureQueriesContext(connection) as q:
                began = time.perf_counter()
                call(moment)
                times.append(time.perf_counter() - began)
            queries.append(len(q.captured_queries))
        return {
            "runs": runs,
            "median_ms": round(statistics.median(times) * 1000, 2),
            "p99_ms": round(percentile(times, 0.99) * 1000, 2),
            "queries_per_run": statistics.median(queries),
            "queries_max": max(queries),
        }

    def through_scheduler(moment):
        assert run_job(strategy.job_id, slot=moment) == "succeeded"

    def strategy_only(moment):
        trading.run(strategy, moment)

    result = {
        "series": name,
        "through_run_job": measure(through_scheduler, first),
        "strategy_work_only": measure(strategy_only, first + runs),
    }
    assert Signal.objects.filter(strategy=strategy).count() == 2 * runs
    return result


def bench_backtest(folder: Path, series: tuple[str, str, str, str]) -> dict:
    from market_data.timeframes import timeframe_ms
    from strategies.backtest import run_backtest
    from strategies.models import Strategy

    name, exchange, symbol, timeframe = series
    rows = store(folder / name, exchange, symbol, timeframe)
    since = datetime.fromtimestamp(rows[0][0] / 1000, tz=UTC)
    until = datetime.fromtimestamp((rows[-1][0] + timeframe_ms(timeframe)) / 1000, tz=UTC)
    speeds = {}
    for algorithm in [
        "sma_crossover",
        "ema_crossover",
        "rsi_reversion",
        "bollinger_breakout",
        "macd_cross",
    ]:
        strategy = Strategy.objects.create(
            name=algorithm,
            exchange=exchange,
            symbol=symbol,
            timeframe=timeframe,
            algorithm=algorithm,
            capital=Decimal("1"),
        )
        began = time.perf_counter()
        result = run_backtest(strategy, since, until)
        took = time.perf_counter() - began
        speeds[algorithm] = {
            "candles": len(result.steps),
            "seconds": round(took, 2),
            "candles_per_second": round(len(result.steps) / took),
            "trades": len(result.fills),
        }
    return {"series": name, "algorithms": speeds}


if __name__ == "__main__":
    main()
