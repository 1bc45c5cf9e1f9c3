"""Fixtures for the market-data tests: exchanges and symbols, the recorded data folder, and
offline ccxt exchanges that answer from recordings (the only thing replaced in these tests)."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from market_data.models import Exchange, Symbol


@pytest.fixture
def shared_data() -> Path:
    """`SHARED_DATA_DIR` (default ../shared/data, else /work/shared/data): recorded candles
    and exchange responses.
    They come from a GPL-3.0 repository, so they are read in place and never copied here."""
    folder = Path(settings.SHARED_DATA_DIR)
    if not (folder / "exchange_responses").is_dir():
        reason = f"recorded market data not found at {folder} (set SHARED_DATA_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return folder


@pytest.fixture
def simulated(db) -> Exchange:
    return Exchange.objects.create(ccxt_id="simulated", name="Simulated market")


@pytest.fixture
def btc(simulated) -> Symbol:
    return Symbol.objects.create(
        exchange=simulated, symbol="BTC/USDT", base="BTC", quote="USDT", tracked=True
    )


@pytest.fixture
def fast_retries(settings):
    settings.MARKET_DATA_RETRY_BACKOFF = 0
    settings.MARKET_DATA_RETRIES = 3
