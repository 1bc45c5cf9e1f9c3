"""Backtests: the same signals and trades as live runs over the same candles (real recorded
series), the report, and readable errors."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from scheduler.execution import run_job
from scheduler.models import JobRun
from strategies.backtest import Result, run_backtest
from strategies.models import Signal, Strategy, Trade
from strategies.trading import Step
from tests import support

from .conftest import read_rows, series_path, store_series

CASES = [
    ("sma_crossover", {"fast": 5, "slow": 20}, "bittrex_ETH-BTC_5m.csv", "ETH/BTC", "5m"),
    ("ema_crossover", {"fast": 5, "slow": 20}, "bittrex_ETH-BTC_5m.csv", "ETH/BTC", "5m"),
    ("rsi_reversion", {"period": 7}, "bittrex_ETH-BTC_5m.csv", "ETH/BTC", "5m"),
    ("bollinger_breakout", {"stddev": 1.5}, "bittrex_ETH-BTC_5m.csv", "ETH/BTC", "5m"),
    ("macd_cross", {}, "bittrex_ETH-BTC_5m.csv", "ETH/BTC", "5m"),
    # Minutes without trades have no candle: both paths read the rows as stored.
    ("sma_crossover", {"fast": 3, "slow": 12}, "bittrex_ETC-BTC_1m.csv", "ETC/BTC", "1m"),
]


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.fixture
def replay(settings):
    """Fetches (for a live run that finds a candle missing) answer from the same recording."""
    settings.MARKET_DATA_PROVIDER = "replay"
    settings.MARKET_DATA_REPLAY_DIR = str(series_path("bittrex_ETH-BTC_5m.csv").parent)


@pytest.mark.django_db
@pytest.mark.parametrize(("algorithm", "parameters", "name", "pair", "timeframe"), CASES)
def test_a_backtest_records_what_live_runs_recorded_over_the_same_candles(
    replay, algorithm, parameters, name, pair, timeframe
):
    store_series(name, "bittrex", pair, timeframe)
    rows = read_rows(name)
    span = timedelta(milliseconds=rows[1][0] - rows[0][0]) if timeframe == "5m" else None
    span = span or timedelta(minutes=1)
    first, last = utc(rows[600][0]), utc(rows[800][0])
    strategy = Strategy.objects.create(
        name="Same",
        symbol=pair,
        timeframe=timeframe,
        exchange="bittrex",
        algorithm=algorithm,
        parameters=parameters,
        capital=Decimal("1"),
        fee_rate=Decimal("0.0025"),
        interval_seconds=60,
    )
    strategy.full_clean()
    strategy.save()
    strategy.start()

    # Live: the scheduler's runs at irregular moments, each judging what closed since.
    moment, shifts = first + span + timedelta(seconds=5), [1, 2, 1, 3, 1, 1, 4]
    with time_machine.travel(moment, tick=False) as clock:
        k = 0
        while moment < last + span + timedelta(seconds=5):
            assert run_job(strategy.job_id, slot=moment.replace(microsecond=0)) == "succeeded"
            step = span * shifts[k % len(shifts)]
            clock.shift(step)
            moment += step
            k += 1
        clock.move_to(last + span + timedelta(seconds=5))
        run_job(strategy.job_id, slot=(last + span + timedelta(seconds=5)).replace(microsecond=0))
        result = run_backtest(strategy, first, last + timedelta(seconds=1))

    live_signals = list(
        Signal.objects.filter(strategy=strategy)
        .order_by("candle_time")
        .values_list("candle_time", "action", "price", "reason", "equity", "indicators")
    )
    backtest_signals = [
        (s.time, s.decision.action, s.price, s.reason, s.equity, s.decision.indicators)
        for s in result.steps
    ]
    assert live_signals[0][0] == first and live_signals[-1][0] == last
    assert live_signals == backtest_signals

    live_trades = list(
        Trade.objects.filter(strategy=strategy)
        .order_by("time")
        .values_list("time", "side", "price", "quantity", "fee", "cash_after", "realised_pnl")
    )
    backtest_trades = [
        (s.time, f.side, f.price, f.quantity, f.fee, f.cash_after, f.realised_pnl)
        for s in result.fills
        for f in [s.fill]
    ]
    assert len(live_trades) >= 4
    assert live_trades == backtest_trades
    assert not JobRun.objects.exclude(status="succeeded").exists()


def test_drawdown_return_and_win_rate_are_computed_from_the_steps():
    def step(equity, realised=None):
        fill = None
        if realised is not None:
            fill = type("F", (), {"realised_pnl": Decimal(realised)})()
        return Step(datetime(2024, 1, 1, tzinfo=UTC), Decimal(1), None, fill, "", Decimal(equity))

    result = Result(capital=Decimal(100))
    result.steps = [step(120), step(90, "-5"), step(130, "12"), step(117, "3"), step(125)]
    assert result.total_return == Decimal("0.25")
    assert result.max_drawdown == Decimal("0.25")  # 120 → 90
    assert result.win_rate == Decimal(2) / 3


@pytest.fixture
def stored_strategy(db):
    store_series("bittrex_ETH-BTC_5m.csv", "bittrex", "ETH/BTC", "5m")
    return Strategy.objects.create(
        name="Report",
        symbol="ETH/BTC",
        timeframe="5m",
        exchange="bittrex",
        parameters={"fast": 5, "slow": 20},
        capital=Decimal("1"),
        interval_seconds=60,
    )


def test_the_command_prints_trades_return_drawdown_and_win_rate(stored_strategy, capsys):
    call_command(
        "backtest", str(stored_strategy.pk), "--since", "2018-01-12", "--until", "2018-01-13"
    )
    out = capsys.readouterr().out
    assert "100% 576/576 candles" in out  # the progress bar, two days of 5m candles
    assert "Report: sma_crossover(fast, slow)" in out
    assert "time (UTC)" in out and " buy " in out and " sell " in out
    for label in ("Trades:", "Total return:", "Max drawdown:", "Win rate:"):
        assert label in out
    # Nothing live was written.
    assert not Signal.objects.exists() and not Trade.objects.exists()


def test_the_report_adds_up(stored_strategy):
    since, until = datetime(2018, 1, 12, tzinfo=UTC), datetime(2018, 1, 14, tzinfo=UTC)
    result = run_backtest(stored_strategy, since, until)
    assert len(result.steps) == 576
    sells = [s for s in result.fills if s.fill.side == "sell"]
    assert result.round_trips == [s.fill.realised_pnl for s in sells]
    assert result.win_rate == Decimal(sum(p > 0 for p in result.round_trips)) / len(sells)
    assert result.final_equity == result.steps[-1].equity
    assert result.total_return == result.final_equity / Decimal(1) - 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("999 --since 2018-01-12 --until 2018-01-13", "strategy '999' does not exist"),
        (
            "{pk} --since yesterday --until 2018-01-13",
            "--since 'yesterday' is not a date like 2024-01-01",
        ),
        (
            "{pk} --since 2018-01-12 --until 2018-02-30",
            "--until '2018-02-30' is not a date like 2024-01-01",
        ),
        ("{pk} --since 2018-01-13 --until 2018-01-12", "--since must be before --until"),
        (
            "{pk} --since 2024-01-01 --until 2024-06-30",
            "no stored candles for ETH/BTC 5m on bittrex between 2024-01-01 00:00 and "
            "2024-07-01 00:00 UTC; fetch them first (manage.py backfill_candles)",
        ),
    ],
)
def test_bad_input_is_one_readable_error(stored_strategy, args, message):
    args = args.format(pk=stored_strategy.pk).split()
    with pytest.raises(CommandError) as error:
        call_command("backtest", *args)
    assert str(error.value) == message


@pytest.mark.django_db
@pytest.mark.subprocess
def test_from_the_shell_bad_input_exits_non_zero_with_one_line():
    process = support.manage("backtest", "999", "--since", "2024-01-01", "--until", "2024-06-30")
    assert process.proc.wait(60) == 1
    process.stop()
    assert process.lines == ["CommandError: strategy '999' does not exist"]
