import os
import signal
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from market_data.models import Backfill, Candle, Exchange, Symbol
from market_data.timeframes import to_ms

from .offline import HOUR_MS, SyntheticBinance, install

pytestmark = pytest.mark.django_db
NOW = datetime(2024, 3, 1, 0, 30, tzinfo=UTC)
SINCE = datetime(2024, 1, 1, tzinfo=UTC)
HOURS = (to_ms(NOW) - to_ms(SINCE)) // HOUR_MS  # 1,440 hours, the last one forming


def backfill(**options) -> str:
    out = StringIO()
    arguments = {"exchange": "binance", "symbol": "BTC/USDT", "timeframe": "1h"}
    arguments.update(options)
    call_command("backfill_candles", since="2024-01-01", stdout=out, **arguments)
    return out.getvalue()


@pytest.fixture
def binance(monkeypatch, shared_data, settings):
    """SYNTHETIC Binance history in the recorded kline shape, 2024-01-01 to now."""
    settings.MARKET_DATA_PROVIDER = "ccxt"
    synthetic = SyntheticBinance(to_ms(SINCE), HOURS + 1)
    state = {"interrupt_at": None}

    def respond(url):
        if len(calls) == state["interrupt_at"]:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while this page is in flight
        return synthetic(url)

    calls = install(monkeypatch, shared_data / "exchange_responses", "binance", respond)
    with time_machine.travel(NOW, tick=False):
        yield calls, state


def test_it_fills_the_history_with_a_progress_bar(binance):
    calls, _ = binance
    out = backfill()
    assert "100% 2024-03-01 00:00 (1441 candles)" in out
    assert "Backfilled BTC/USDT 1h since 2024-01-01: 1441 candles stored in 3 pages" in out
    symbol = Symbol.objects.get(symbol="BTC/USDT", exchange__ccxt_id="binance")
    assert symbol.candles.count() == 1441
    assert len(calls) == 3


def test_an_interrupted_backfill_resumes_and_a_second_run_changes_nothing(binance):
    calls, state = binance
    state["interrupt_at"] = 2
    out = backfill()
    assert "Interrupted after 2024-02-11 15:00 UTC; run the same command again" in out
    assert Candle.objects.count() == 1000  # two whole pages, nothing of a third
    assert len(calls) == 2

    state["interrupt_at"] = None
    out = backfill()
    assert out.startswith("Resuming after 2024-02-11 15:00 UTC")
    # From the last stored candle itself (it may have been forming): stored again, once.
    assert "442 candles stored in 1 pages" in out
    assert f"startTime={to_ms(datetime(2024, 2, 11, 15, tzinfo=UTC))}" in calls[2]
    assert Candle.objects.count() == 1441

    before = list(Candle.objects.order_by("open_time").values_list("open_time", "close"))
    backfill()
    assert list(Candle.objects.order_by("open_time").values_list("open_time", "close")) == before
    assert Backfill.objects.get().finished_at is not None


@pytest.mark.parametrize(
    "options, error",
    [
        ({"exchange": "binanse"}, "unknown exchange id 'binanse'"),
        ({"symbol": "BTC/XYZ"}, "binance does not list BTC/XYZ"),
        ({"timeframe": "7m"}, "unsupported timeframe '7m'"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(binance, options, error):
    with pytest.raises(CommandError, match=error):
        backfill(**options)
    assert not Exchange.objects.exists() and not Candle.objects.exists()


def test_it_works_offline_on_the_simulated_market(db):
    with time_machine.travel(datetime(2024, 1, 3, 0, 10, tzinfo=UTC), tick=False):
        out = backfill(exchange="simulated", timeframe="1h")
    assert "48 candles stored in 1 pages" in out


def test_a_backfill_cut_at_the_page_bound_says_so_and_is_not_marked_finished(binance, monkeypatch):
    monkeypatch.setattr("market_data.collection.MAX_PAGES", 1)
    with pytest.raises(CommandError, match="stopped after 1 pages, not caught up yet; run again"):
        backfill()
    assert Candle.objects.count() == 500
    assert Backfill.objects.get().finished_at is None
