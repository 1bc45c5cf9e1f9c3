import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import ccxt
import pytest
import time_machine
from asgiref.sync import async_to_sync
from cryptography.fernet import Fernet
from django.db import IntegrityError

from market_data.jobs import collect_crypto_data
from market_data.models import Candle, Exchange, Symbol
from market_data.providers.simulated import SimulatedProvider
from market_data.timeframes import to_ms
from scheduler.execution import run_job
from scheduler.models import JobRun

from .offline import HOUR_MS, SyntheticBinance, install

NOW = datetime(2025, 3, 10, 12, 34, 56, tzinfo=UTC)
collect = async_to_sync(collect_crypto_data)
pytestmark = pytest.mark.django_db


def test_a_fresh_database_gets_the_lookback_then_only_new_candles(btc):
    with time_machine.travel(NOW, tick=False):
        assert collect() == "1 symbol, 500 candles, 0 errors"
    times = list(btc.candles.order_by("open_time").values_list("open_time", flat=True))
    assert len(times) == 500
    assert times[-1] == datetime(2025, 3, 10, 11, tzinfo=UTC)  # the newest closed hour
    first_close = btc.candles.get(open_time=times[-1]).close

    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        # The newest stored candle is fetched again (it may have been forming), then 3 new.
        assert collect() == "1 symbol, 4 candles, 0 errors"
    assert btc.candles.count() == 503
    assert btc.candles.get(open_time=times[-1]).close == first_close
    btc.refresh_from_db()
    assert btc.last_error == "" and btc.last_collected_at is not None


def test_the_scheduler_runs_it_and_keeps_the_summary(btc):
    """Through the one execution path the engines call, as the built-in schedule does."""
    with time_machine.travel(NOW, tick=False):
        assert run_job("collect_crypto_data") == JobRun.SUCCEEDED
    run = JobRun.objects.get(job_id="collect_crypto_data")
    assert run.summary == "1 symbol, 500 candles, 0 errors"
    assert btc.candles.count() == 500


def test_untracked_inactive_and_disabled_ones_are_left_alone(btc, simulated):
    Symbol.objects.create(exchange=simulated, symbol="ETH/USDT", tracked=False)
    Symbol.objects.create(exchange=simulated, symbol="SOL/USDT", tracked=True, active=False)
    other = Exchange.objects.create(ccxt_id="kraken", enabled=False)
    Symbol.objects.create(exchange=other, symbol="BTC/USDT", tracked=True)
    with time_machine.travel(NOW, tick=False):
        assert collect() == "1 symbol, 500 candles, 0 errors"
    assert set(Candle.objects.values_list("symbol", flat=True).distinct()) == {btc.pk}


def test_symbols_are_fetched_concurrently_but_never_more_than_the_limit(
    simulated, settings, monkeypatch
):
    settings.MARKET_DATA_CONCURRENCY = 3
    settings.MARKET_DATA_LOOKBACK_CANDLES = 5
    for name in ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT", "DOT/USDT"]:
        Symbol.objects.create(exchange=simulated, symbol=name, tracked=True, timeframes="1h,4h")
    in_flight, peak = 0, 0
    full = asyncio.Event()
    real = SimulatedProvider.fetch_candles

    async def counting(self, *args):
        # Hold each fetch, as a slow network would, until three are in flight at once.
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        if in_flight == 3:
            full.set()
        await asyncio.wait_for(full.wait(), timeout=10)
        in_flight -= 1
        return await real(self, *args)

    monkeypatch.setattr(SimulatedProvider, "fetch_candles", counting)
    with time_machine.travel(NOW, tick=False):
        assert collect() == "6 symbols, 60 candles, 0 errors"
    assert peak == 3


def test_pages_duplicates_and_gaps_from_an_exchange(monkeypatch, shared_data, fast_retries):
    """SYNTHETIC klines in Binance's recorded shape: 1,200 hours with three missing, the
    exchange repeating the first page's rows in the second answer."""
    settings_now = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
    start = to_ms(settings_now) - to_ms(settings_now) % HOUR_MS - 1200 * HOUR_MS
    synthetic = SyntheticBinance(start, 1200, missing={100, 101, 700})

    def respond(url):
        rows = synthetic(url)
        return rows + rows[:3] if rows else rows  # duplicates, out of order

    calls = install(monkeypatch, shared_data / "exchange_responses", "binance", respond)
    monkeypatch.setattr("django.conf.settings.MARKET_DATA_PROVIDER", "ccxt")
    monkeypatch.setattr("django.conf.settings.MARKET_DATA_LOOKBACK_CANDLES", 1200)
    exchange = Exchange.objects.create(ccxt_id="binance")
    symbol = Symbol.objects.create(exchange=exchange, symbol="BTC/USDT", tracked=True)
    with time_machine.travel(settings_now, tick=False):
        assert collect() == "1 symbol, 1197 candles, 0 errors (3 gaps in the data)"
    assert len(calls) == 3  # pages of 500
    times = [
        to_ms(t) for t in symbol.candles.order_by("open_time").values_list("open_time", flat=True)
    ]
    assert len(times) == len(set(times)) == 1197
    first = symbol.candles.order_by("open_time").first()
    assert first.open == Decimal("43000.10000000") and first.high == Decimal("43005.10")


@pytest.fixture
def eth_failing(monkeypatch, shared_data, fast_retries, settings):
    """Binance (replayed) with BTC/USDT and ETH/USDT tracked; `fail(exc)` makes every
    ETH/USDT request raise `exc`. Returns a function that collects and gives back the
    symbols and the requested URLs."""
    now = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)
    synthetic = SyntheticBinance(to_ms(now) - to_ms(now) % HOUR_MS - 10 * HOUR_MS, 10)
    settings.MARKET_DATA_PROVIDER = "ccxt"
    settings.MARKET_DATA_LOOKBACK_CANDLES = 10
    exchange = Exchange.objects.create(ccxt_id="binance")
    btc = Symbol.objects.create(exchange=exchange, symbol="BTC/USDT", tracked=True)
    eth = Symbol.objects.create(exchange=exchange, symbol="ETH/USDT", tracked=True)

    def run(error: Exception):
        def respond(url):
            if "ETHUSDT" in url:
                raise error
            return synthetic(url)

        calls = install(monkeypatch, shared_data / "exchange_responses", "binance", respond)
        with time_machine.travel(now, tick=False):
            assert collect() == "2 symbols, 10 candles, 1 error"
        eth.refresh_from_db()
        assert btc.candles.count() == 10 and eth.candles.count() == 0
        return eth, calls

    return run


def test_one_failing_symbol_is_retried_then_recorded_and_the_others_are_stored(eth_failing):
    eth, calls = eth_failing(ccxt.NetworkError("Connection reset by peer"))
    assert sum("ETHUSDT" in url for url in calls) == 3
    assert "Connection reset by peer" in eth.last_error
    assert "gave up after 3 tries" in eth.last_error


def test_an_unexpected_error_in_one_symbol_is_that_symbols_error_only(eth_failing):
    # A parser tripping on a changed response: not a provider error, still only ETH's.
    eth, _ = eth_failing(KeyError("openTime"))
    assert eth.last_error == "1h: KeyError: 'openTime'"


def test_unreadable_credentials_stop_only_their_exchange(btc, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    other = Exchange.objects.create(ccxt_id="kraken")
    other.set_credentials("key", "secret")
    other.save()
    eth = Symbol.objects.create(exchange=other, symbol="ETH/USDT", tracked=True)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]  # the old key is gone
    with time_machine.travel(NOW, tick=False):
        assert collect() == "2 symbols, 500 candles, 1 error"
    eth.refresh_from_db()
    assert "cannot be decrypted" in eth.last_error
    assert "secret" not in eth.last_error
    assert btc.candles.count() == 500


def test_a_failed_batch_leaves_no_partial_rows(btc):
    good = [
        (to_ms(NOW) - i * HOUR_MS, Decimal(1), Decimal(2), Decimal(1), Decimal(1), Decimal(1))
        for i in range(1, 1501)
    ]
    oldest_first = sorted(good)
    oldest_first[1200] = (oldest_first[1200][0], None, *oldest_first[1200][2:])  # fails
    with pytest.raises(IntegrityError):
        Candle.objects.upsert_many(btc, "1h", oldest_first)
    assert btc.candles.count() == 1000  # the first batch, whole; nothing of the second


@pytest.mark.parametrize(
    "bad",
    [
        ("NaN", "1", "1", "1", "1"),
        ("1", "Infinity", "1", "1", "1"),
        ("2", "1.5", "1", "1.2", "1"),  # open above high
        ("1", "2", "1.1", "1", "1"),  # close below low
        ("1", "1", "1", "1", "-5"),
    ],
)
def test_a_page_with_an_impossible_candle_is_refused_whole(bad):
    from decimal import Decimal

    from market_data.collection import clean_page
    from market_data.providers.base import ProviderError

    good = (0, *(Decimal(v) for v in ("1", "2", "0.5", "1.5", "10")))
    with pytest.raises(ProviderError, match="malformed candle at 3600000"):
        clean_page([good, (HOUR_MS, *(Decimal(v) for v in bad))], "1h")
