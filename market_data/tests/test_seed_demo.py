from datetime import UTC, datetime

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.core.management import call_command

from market_data.jobs import collect_crypto_data
from market_data.models import Candle, Symbol

pytestmark = pytest.mark.django_db


@time_machine.travel(datetime(2025, 3, 10, 12, 34, tzinfo=UTC), tick=False)
def test_a_fresh_demo_shows_candles_after_the_first_collection(capsys):
    call_command("seed_demo")
    call_command("seed_demo")  # safe to run again
    tracked = Symbol.objects.filter(tracked=True, exchange__ccxt_id="simulated")
    assert sorted(tracked.values_list("symbol", flat=True)) == ["BTC/USDT", "ETH/USDT"]
    assert async_to_sync(collect_crypto_data)() == "2 symbols, 2000 candles, 0 errors"
    for symbol in tracked:
        for timeframe in ("1m", "1h"):
            assert Candle.objects.filter(symbol=symbol, timeframe=timeframe).count() == 500
