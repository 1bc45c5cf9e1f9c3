import csv
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync

from market_data.collection import collect_one
from market_data.models import Candle, Exchange, Symbol
from market_data.providers import get_provider
from market_data.providers.base import BadSymbol
from market_data.timeframes import to_ms


@pytest.fixture
def replay(settings, shared_data):
    settings.MARKET_DATA_PROVIDER = "replay"
    settings.MARKET_DATA_REPLAY_DIR = str(shared_data)
    return get_provider("bittrex")


def test_it_lists_the_recorded_markets_and_serves_their_text_as_decimals(replay):
    symbols = {m.symbol for m in async_to_sync(replay.load_markets)()}
    assert {"ETH/BTC", "ETC/BTC"} <= symbols
    first = async_to_sync(replay.fetch_candles)("ETH/BTC", "5m", 0, 2)
    # The file's first row: 1515560100000,0.0984,0.0994766,0.09828605,0.0994766,1820.54447418
    assert first[0] == (
        1515560100000,
        Decimal("0.0984"),
        Decimal("0.0994766"),
        Decimal("0.09828605"),
        Decimal("0.0994766"),
        Decimal("1820.54447418"),
    )
    assert first[1][0] == 1515560100000 + 300_000
    with pytest.raises(BadSymbol):
        async_to_sync(replay.fetch_candles)("ETH/BTC", "1h", 0, 2)


@pytest.mark.django_db
def test_a_gapped_series_is_stored_as_recorded_and_its_gaps_reported(replay, shared_data):
    exchange = Exchange.objects.create(ccxt_id="bittrex")
    symbol = Symbol.objects.create(exchange=exchange, symbol="ETC/BTC", timeframes="1m")
    start = int(datetime(2017, 11, 4, tzinfo=UTC).timestamp() * 1000)
    outcome = async_to_sync(collect_one)(replay, symbol, "1m", since_ms=start)
    assert outcome.error == ""
    # The README of the recordings: 13,681 rows, 538 gaps making 717 missing minutes.
    assert outcome.candles == Candle.objects.filter(symbol=symbol).count() == 13681
    assert outcome.gaps == 717
    # Every stored price equals the recorded text, digit for digit.
    with (shared_data / "bittrex_ETC-BTC_1m.csv").open() as handle:
        recorded = {
            int(row["timestamp_ms"]): (Decimal(row["low"]), Decimal(row["close"]))
            for row in csv.DictReader(handle)
        }
    stored = {
        to_ms(t): (low, close)
        for t, low, close in Candle.objects.filter(symbol=symbol).values_list(
            "open_time", "low", "close"
        )
    }
    assert stored == recorded
