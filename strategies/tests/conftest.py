"""Fixtures for the strategy tests: the recorded candle series (read in place from
SHARED_DATA_DIR, never copied here), stored candles, and owners."""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import time_machine
from django.conf import settings

from market_data.models import Candle, Exchange, Symbol
from strategies import trading
from strategies.models import Strategy


def series_path(name: str) -> Path:
    """The recorded series `name` (e.g. `bittrex_ETH-BTC_5m.csv`), or skip (fail under CI)
    when the shared data folder is missing."""
    path = Path(settings.SHARED_DATA_DIR) / name
    if not path.is_file():
        reason = f"recorded candles not found at {path} (set SHARED_DATA_DIR)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def read_rows(name: str) -> list[tuple]:
    """(open time ms, open, high, low, close, volume as Decimal) rows of a recorded series."""
    with series_path(name).open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [(int(row[0]), *(Decimal(v) for v in row[1:6])) for row in reader]


def read_closes(name: str) -> np.ndarray:
    return np.array([float(row[4]) for row in read_rows(name)], dtype=np.float64)


def store_series(name: str, exchange_id: str, symbol: str, timeframe: str) -> Symbol:
    """Store a recorded series as candles of `symbol` on exchange `exchange_id`."""
    exchange, _ = Exchange.objects.get_or_create(ccxt_id=exchange_id)
    row, _ = Symbol.objects.get_or_create(exchange=exchange, symbol=symbol)
    Candle.objects.upsert_many(row, timeframe, read_rows(name))
    return row


NOON = datetime(2024, 3, 1, 12, 0, 30, tzinfo=UTC)


def traded(**fields) -> Strategy:
    """A 1-minute strategy after 30 runs on the simulated market from NOON: a paper
    account with signals and trades."""
    strategy = Strategy.objects.create(
        name="Traded",
        symbol="BTC/USDT",
        timeframe="1m",
        parameters={"fast": 1, "slow": 2},
        capital=Decimal("1000"),
        **fields,
    )
    with time_machine.travel(NOON, tick=False) as clock:
        for _ in range(30):
            trading.run(strategy)
            clock.shift(60)
    assert strategy.trades.exists()
    return strategy


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-for-tests-only")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", password="pw-for-tests-only")
