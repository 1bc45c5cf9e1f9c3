from datetime import UTC, datetime

import pytest
import time_machine
from asgiref.sync import async_to_sync

from market_data.providers import get_provider
from market_data.providers.base import BadSymbol
from market_data.timeframes import TIMEFRAMES, to_ms

NOW = datetime(2025, 3, 10, 12, 34, 56, tzinfo=UTC)


def fetch(symbol, timeframe, since, limit=500):
    provider = get_provider("simulated", name="simulated")
    return async_to_sync(provider.fetch_candles)(symbol, timeframe, to_ms(since), limit)


@time_machine.travel(NOW, tick=False)
def test_it_is_the_default_provider_and_serves_the_same_candles_on_every_call(settings):
    assert settings.MARKET_DATA_PROVIDER == "simulated"
    first = fetch("BTC/USDT", "1h", datetime(2025, 3, 1, tzinfo=UTC))
    again = fetch("BTC/USDT", "1h", datetime(2025, 3, 1, tzinfo=UTC))
    assert first == again
    # A window starting later holds exactly the same candles for the same times.
    later = fetch("BTC/USDT", "1h", datetime(2025, 3, 5, 7, tzinfo=UTC), limit=10)
    by_time = {c[0]: c for c in first}
    assert all(by_time[c[0]] == c for c in later)


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("timeframe", list(TIMEFRAMES))
def test_candles_are_aligned_ordered_and_consistent(timeframe):
    candles = fetch("ETH/USDT", timeframe, datetime(2025, 1, 1, tzinfo=UTC), limit=300)
    step = TIMEFRAMES[timeframe]
    assert candles
    for ms, open_, high, low, close, volume in candles:
        assert ms % step == 0
        assert low <= open_ <= high and low <= close <= high
        assert low > 0 and volume > 0
    times = [c[0] for c in candles]
    assert times == sorted(set(times))
    assert all(b - a == step for a, b in zip(times, times[1:], strict=False))
    # Only closed candles: nothing served can still change.
    assert times[-1] + step <= to_ms(NOW)


@time_machine.travel(NOW, tick=False)
def test_hourly_candles_agree_with_the_minutes_inside_them():
    hour = fetch("SOL/USDT", "1h", datetime(2025, 3, 9, 10, tzinfo=UTC), limit=1)[0]
    minutes = fetch("SOL/USDT", "1m", datetime(2025, 3, 9, 10, tzinfo=UTC), limit=60)
    assert hour[1] == minutes[0][1] and hour[4] == minutes[-1][4]
    assert hour[2] == max(m[2] for m in minutes) and hour[3] == min(m[3] for m in minutes)


@time_machine.travel(NOW, tick=False)
def test_symbols_have_their_own_paths_and_unknown_ones_are_refused():
    since = datetime(2025, 3, 1, tzinfo=UTC)
    assert fetch("BTC/USDT", "1d", since)[0][1] != fetch("ETH/USDT", "1d", since)[0][1]
    with pytest.raises(BadSymbol):
        fetch("NOPE/USDT", "1h", since)


@time_machine.travel(NOW, tick=False)
def test_tiny_prices_keep_their_significant_digits():
    from market_data.providers.simulated import MARKETS

    tiny = [m for m in MARKETS if m.startswith("SHIB/") and not m.endswith(("USDT", "USDC"))]
    assert tiny, "a market priced far below 1"
    for symbol in tiny:
        candle = fetch(symbol, "1h", datetime(2025, 3, 1, tzinfo=UTC), limit=1)[0]
        assert all(price > 0 for price in candle[1:5]), (symbol, candle)
