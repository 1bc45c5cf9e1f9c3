"""Live runs (`strategy_<id>` through the scheduler's one execution path) on the offline
simulated market: fresh candles, one signal per closed candle, paper fills, no duplicates
however a slot is delivered, and the auto-stop after failed runs."""

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from market_data.models import Candle, Symbol
from market_data.providers.simulated import SimulatedProvider
from market_data.timeframes import timeframe_ms, to_ms
from scheduler.execution import run_job
from scheduler.models import JobRun, Schedule
from strategies import trading
from strategies.models import PaperAccount, Signal, Strategy, Trade
from strategies.paper import money
from tests import support

NOON = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def minute_strategy(**fields) -> Strategy:
    fields = {
        "name": "Scalp",
        "symbol": "BTC/USDT",
        "timeframe": "1m",
        "interval_seconds": 60,
        "exchange": "simulated",
        **fields,
    }
    return Strategy.objects.create(**fields)


def slot_now() -> datetime:
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


@pytest.mark.django_db
def test_a_first_run_fetches_its_history_and_judges_the_newest_closed_candle(clock):
    strategy = minute_strategy()
    strategy.start()
    assert run_job(strategy.job_id, slot=slot_now()) == JobRun.SUCCEEDED

    symbol = Symbol.objects.get(exchange__ccxt_id="simulated", symbol="BTC/USDT")
    candles = Candle.objects.filter(symbol=symbol, timeframe="1m")
    assert candles.count() == 500  # the history a decision reads, fetched in one run
    signal = Signal.objects.get(strategy=strategy)
    newest = candles.latest("open_time")
    assert signal.candle_time == newest.open_time == datetime(2024, 3, 1, 11, 59, tzinfo=UTC)
    assert signal.price == newest.close
    assert set(signal.indicators) == {"sma_fast", "sma_slow"}
    assert signal.action in ("buy", "sell", "hold") and signal.reason
    run = JobRun.objects.get(job_id=strategy.job_id)
    assert "500 candles fetched: 1 candle judged" in run.summary


@pytest.mark.django_db
def test_each_closed_candle_is_judged_once_and_a_repeat_run_adds_nothing(clock):
    strategy = minute_strategy()
    trading.run(strategy)
    assert "no new closed candle" in trading.run(strategy)
    assert Signal.objects.count() == 1

    clock.shift(3 * MINUTE)  # three more candles closed meanwhile
    summary = trading.run(strategy)
    assert "3 candles fetched: 3 candles judged" in summary
    times = list(Signal.objects.order_by("candle_time").values_list("candle_time", flat=True))
    first = datetime(2024, 3, 1, 11, 59, tzinfo=UTC)
    assert times == [first + i * MINUTE for i in range(4)]


PARTIAL = Decimal("12345.678")


@pytest.fixture
def forming(monkeypatch):
    """The simulated market serving the forming candle too, as real exchanges do, with a
    partial close (`PARTIAL`) that its final close later replaces."""
    real = SimulatedProvider.candles

    def with_forming(self, symbol, timeframe, since_ms, limit):
        out = real(self, symbol, timeframe, since_ms, limit)
        step = timeframe_ms(timeframe)
        now_ms = int(time.time() * 1000)
        opens = now_ms - now_ms % step
        if out and out[-1][0] == opens - step and len(out) < limit:
            last_close = out[-1][4]
            high, low = max(last_close, PARTIAL), min(last_close, PARTIAL)
            out.append((opens, last_close, high, low, PARTIAL, Decimal(1)))
        return out

    monkeypatch.setattr(SimulatedProvider, "candles", with_forming)


@pytest.mark.django_db
def test_a_candle_stored_while_forming_is_fetched_again_before_it_is_judged(clock, forming):
    strategy = minute_strategy()
    trading.run(strategy)  # judges 11:59 and stores 12:00 while it forms
    symbol = Symbol.objects.get(exchange__ccxt_id="simulated", symbol="BTC/USDT")
    noon = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    assert Candle.objects.get(symbol=symbol, timeframe="1m", open_time=noon).close == PARTIAL

    clock.shift(MINUTE)  # 12:00 has closed; the newest stored candle is that one
    trading.run(strategy)
    final = SimulatedProvider("simulated").candles("BTC/USDT", "1m", to_ms(noon), 1)[0][4]
    assert final != PARTIAL
    assert Candle.objects.get(symbol=symbol, timeframe="1m", open_time=noon).close == final
    signal = Signal.objects.get(strategy=strategy, candle_time=noon)
    assert signal.price == final


@pytest.mark.django_db
def test_after_downtime_only_the_newest_candles_are_judged(clock, settings):
    settings.STRATEGY_CATCH_UP_CANDLES = 5
    strategy = minute_strategy()
    trading.run(strategy)
    clock.shift(60 * MINUTE)
    trading.run(strategy)
    times = list(Signal.objects.order_by("candle_time").values_list("candle_time", flat=True))
    assert len(times) == 6
    assert times[1:] == [datetime(2024, 3, 1, 12, 55, tzinfo=UTC) + i * MINUTE for i in range(5)]


@pytest.mark.django_db
def test_signals_fill_at_the_candle_close_and_the_account_adds_up(clock):
    strategy = minute_strategy(parameters={"fast": 1, "slow": 3}, fee_rate=Decimal("0.002"))
    for _ in range(120):
        trading.run(strategy)
        clock.shift(MINUTE)

    trades = list(Trade.objects.filter(strategy=strategy).order_by("time"))
    assert len(trades) >= 10
    closes = dict(Candle.objects.values_list("open_time", "close"))
    for trade in trades:
        assert trade.price == trade.signal.price == closes[trade.time]
        assert trade.side == trade.signal.action
        assert trade.fee > 0
    assert [t.side for t in trades] == ["buy", "sell"] * (len(trades) // 2) + ["buy"] * (
        len(trades) % 2
    )
    account = PaperAccount.objects.get(strategy=strategy)
    assert account.cash == trades[-1].cash_after >= 0
    assert account.fees_paid == sum(t.fee for t in trades)
    assert account.realised_pnl == sum(t.realised_pnl or 0 for t in trades)
    assert account.equity == money(account.cash + account.position * account.last_price)
    assert Signal.objects.filter(strategy=strategy).count() == 120


@pytest.mark.django_db(transaction=True)
def test_a_slot_delivered_twice_at_once_records_one_signal(clock):
    strategy = minute_strategy()
    strategy.start()
    trading.ensure_fresh(trading.market(strategy), "1m", NOON)
    slot = slot_now()
    results = support.race(lambda: run_job(strategy.job_id, slot=slot))
    assert sorted(results, key=str) == [None, JobRun.SUCCEEDED]
    assert Signal.objects.filter(strategy=strategy).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_racing_past_the_scheduler_still_record_one_signal_per_candle(clock):
    # The claim is the scheduler's guard; the account's row lock is the strategy's own.
    strategy = minute_strategy()
    trading.ensure_fresh(trading.market(strategy), "1m", NOON)
    results = support.race(lambda: trading.run(Strategy.objects.get(pk=strategy.pk)), times=3)
    assert len(results) == 3
    assert sum("1 candle judged" in summary for summary in results) == 1
    assert Signal.objects.filter(strategy=strategy).count() == 1
    account = PaperAccount.objects.get(strategy=strategy)
    assert account.last_signal_at == datetime(2024, 3, 1, 11, 59, tzinfo=UTC)


@pytest.mark.django_db(transaction=True)
def test_an_overlapping_slot_is_skipped_and_recorded(clock, monkeypatch):
    strategy = minute_strategy()
    strategy.start()
    started, release = threading.Event(), threading.Event()
    real = trading.ensure_fresh

    def held(*args):
        started.set()
        release.wait(10)
        return real(*args)

    monkeypatch.setattr(trading, "ensure_fresh", held)
    first = slot_now()
    runner = support.in_thread(run_job, strategy.job_id, slot=first)
    assert started.wait(10), "the first run did not start"
    monkeypatch.setattr(trading, "ensure_fresh", real)
    assert run_job(strategy.job_id, slot=first + timedelta(seconds=1)) == JobRun.SKIPPED
    release.set()
    runner.join(20)
    assert not runner.is_alive()
    statuses = dict(JobRun.objects.values_list("scheduled_at", "status"))
    assert statuses == {first: JobRun.SUCCEEDED, first + timedelta(seconds=1): JobRun.SKIPPED}
    assert Signal.objects.filter(strategy=strategy).count() == 1


@pytest.mark.django_db
def test_a_run_whose_account_is_reset_midway_opens_it_afresh(clock, monkeypatch):
    strategy = minute_strategy()
    trading.run(strategy)
    clock.shift(MINUTE)
    real = trading.closed_candles

    def reset_meanwhile(*args):  # after the run opened the account, before it records
        Strategy.objects.filter(pk=strategy.pk).reset_accounts()
        return real(*args)

    monkeypatch.setattr(trading, "closed_candles", reset_meanwhile)
    assert "1 candle judged" in trading.run(strategy)
    account = PaperAccount.objects.get(strategy=strategy)
    assert account.capital == strategy.capital
    assert list(strategy.signals.values_list("candle_time", flat=True)) == [account.last_signal_at]


# --- Failures and the auto-stop ------------------------------------------------------------
def run_slots(clock, strategy, count):
    """Run `count` consecutive slots of `strategy`'s job; their statuses."""
    statuses = []
    for _ in range(count):
        statuses.append(run_job(strategy.job_id, slot=slot_now()))
        clock.shift(timedelta(seconds=strategy.interval_seconds))
    return statuses


@pytest.mark.django_db
def test_a_symbol_that_cannot_be_fetched_fails_the_run_with_the_reason(clock):
    strategy = minute_strategy(symbol="NOPE/USDT")
    strategy.start()
    assert run_slots(clock, strategy, 1) == [JobRun.FAILED]
    run = JobRun.objects.get(job_id=strategy.job_id)
    assert "fetching NOPE/USDT 1m failed" in run.summary
    assert "does not list NOPE/USDT" in run.summary
    assert not Signal.objects.exists()


@pytest.mark.django_db
def test_parameters_written_past_validation_fail_the_run_readably(clock):
    strategy = minute_strategy(parameters={"fast": 50, "slow": 10})
    strategy.start()
    assert run_slots(clock, strategy, 1) == [JobRun.FAILED]
    assert JobRun.objects.get().summary == (
        "ValueError: invalid parameters for sma_crossover: Fast (50) must be less than slow (10)."
    )


@pytest.mark.django_db
def test_a_strategy_stops_itself_after_its_failures_in_a_row(clock):
    strategy = minute_strategy(symbol="NOPE/USDT", max_failures=3)
    strategy.start()
    assert run_slots(clock, strategy, 2) == [JobRun.FAILED] * 2
    strategy.refresh_from_db()
    assert strategy.is_active and not strategy.stopped_reason

    assert run_slots(clock, strategy, 1) == [JobRun.FAILED]
    strategy.refresh_from_db()
    assert not strategy.is_active
    assert strategy.stopped_reason.startswith("Stopped itself after 3 failed runs in a row")
    assert "does not list NOPE/USDT" in strategy.stopped_reason
    assert not Schedule.objects.get(job_id=strategy.job_id).enabled

    strategy.start()  # started again: the reason goes, the count starts afresh
    strategy.refresh_from_db()
    assert strategy.stopped_reason == ""
    assert run_slots(clock, strategy, 2) == [JobRun.FAILED] * 2
    strategy.refresh_from_db()
    assert strategy.is_active


@pytest.mark.django_db
def test_a_successful_run_resets_the_count_of_failures(clock):
    strategy = minute_strategy(symbol="NOPE/USDT", max_failures=3)
    strategy.start()
    run_slots(clock, strategy, 2)
    Strategy.objects.filter(pk=strategy.pk).update(symbol="BTC/USDT")
    assert run_slots(clock, strategy, 1) == [JobRun.SUCCEEDED]
    account = PaperAccount.objects.get(strategy=strategy)
    assert (account.consecutive_failures, account.last_run_status) == (0, JobRun.SUCCEEDED)
    Strategy.objects.filter(pk=strategy.pk).update(symbol="NOPE/USDT")
    assert run_slots(clock, strategy, 2) == [JobRun.FAILED] * 2
    strategy.refresh_from_db()
    assert strategy.is_active
