"""The ccxt provider against real recorded exchange responses, replayed with no network."""

import json
from decimal import Decimal

import ccxt
import pytest
from asgiref.sync import async_to_sync

from market_data.providers import get_provider
from market_data.providers.base import BadSymbol, TransientError

from .offline import install


def recorded(folder, exchange_id, name="fetchOHLCV"):
    return json.loads((folder / "exchange_responses" / exchange_id / f"{name}.json").read_text())


@pytest.fixture
def responses(shared_data):
    return shared_data / "exchange_responses"


@pytest.mark.parametrize("exchange_id", ["binance", "kraken"])
def test_recorded_candles_become_decimals_equal_to_the_exchange_text(
    monkeypatch, shared_data, responses, exchange_id
):
    case = recorded(shared_data, exchange_id)[0]
    calls = install(monkeypatch, responses, exchange_id, lambda url: case["httpResponse"])
    provider = get_provider(exchange_id, name="ccxt")
    candles = async_to_sync(provider.fetch_candles)(*case["input"])
    async_to_sync(provider.close)()

    # ccxt's own parse (floats) picks the same candles; ours keeps the exchange's text.
    assert [c[0] for c in candles] == [row[0] for row in case["parsedResponse"]]
    raw = case["httpResponse"]
    raw_rows = raw if exchange_id == "binance" else raw["result"]["XBTUSDT"]
    raw_by_ms = {(r[0] if exchange_id == "binance" else r[0] * 1000): r for r in raw_rows}
    volume_column = 5 if exchange_id == "binance" else 6
    for ms, open_, high, low, close, volume in candles:
        row = raw_by_ms[ms]
        assert (open_, high, low, close) == tuple(Decimal(v) for v in row[1:5])
        assert volume == Decimal(row[volume_column])
        assert all(isinstance(v, Decimal) for v in (open_, high, low, close, volume))
    assert len(calls) == 1


@pytest.mark.parametrize("exchange_id", ["binance", "kraken", "coinbase"])
def test_it_lists_the_recorded_markets(monkeypatch, responses, exchange_id):
    install(monkeypatch, responses, exchange_id, lambda url: pytest.fail(f"went to {url}"))
    provider = get_provider(exchange_id, name="ccxt")
    markets = {m.symbol: m for m in async_to_sync(provider.load_markets)()}
    assert "BTC/USDT" in markets
    assert (markets["BTC/USDT"].base, markets["BTC/USDT"].quote) == ("BTC", "USDT")


def test_network_and_rate_limit_errors_are_transient_and_unknown_symbols_are_not(
    monkeypatch, responses
):
    def respond(url):
        raise ccxt.RateLimitExceeded("429 Too Many Requests")

    install(monkeypatch, responses, "binance", respond)
    provider = get_provider("binance", name="ccxt")
    with pytest.raises(TransientError, match="RateLimitExceeded"):
        async_to_sync(provider.fetch_candles)("BTC/USDT", "1h", 0, 10)
    with pytest.raises(BadSymbol):
        async_to_sync(provider.fetch_candles)("DOGE/EUR", "1h", 0, 10)


def test_an_unknown_exchange_id_is_refused():
    with pytest.raises(ValueError, match="unknown exchange id 'binanse'"):
        get_provider("binanse", name="ccxt")
