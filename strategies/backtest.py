"""Backtests: a strategy judged over a range of stored candles, with the live runs' own
step (`trading.judge`) and the same window of history before each candle, on a paper
account kept in memory. Nothing is written: the strategy's real paper account and
signals are left as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
from django.conf import settings
from django.utils import timezone

from market_data.models import Candle, Symbol

from .models import Strategy
from .paper import Book
from .trading import Step, judge, latest_closed


@dataclass
class Result:
    capital: Decimal
    steps: list[Step] = field(default_factory=list)

    @property
    def fills(self) -> list[Step]:
        return [step for step in self.steps if step.fill is not None]

    @property
    def final_equity(self) -> Decimal:
        return self.steps[-1].equity if self.steps else self.capital

    @property
    def total_return(self) -> Decimal:
        """Final equity over capital, less one (0.05 is +5%)."""
        return self.final_equity / self.capital - 1

    @property
    def max_drawdown(self) -> Decimal:
        """The largest fall of equity from a previous peak, as a fraction of that peak."""
        peak, worst = self.capital, Decimal(0)
        for step in self.steps:
            peak = max(peak, step.equity)
            if peak > 0:
                worst = max(worst, (peak - step.equity) / peak)
        return worst

    @property
    def round_trips(self) -> list[Decimal]:
        """The realised P&L of each closed round trip (buy then sell), fees included."""
        return [s.fill.realised_pnl for s in self.fills if s.fill.realised_pnl is not None]

    @property
    def win_rate(self) -> Decimal | None:
        """Share of closed round trips that made money; None when none closed."""
        trips = self.round_trips
        if not trips:
            return None
        return Decimal(sum(pnl > 0 for pnl in trips)) / len(trips)


def run_backtest(
    strategy: Strategy,
    since: datetime,
    until: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Judge each stored closed candle of `strategy` opening in [since, until); `progress
    (done, total)` is called as it goes. `ValueError` with a readable message when there
    is nothing to test."""
    if since >= until:
        raise ValueError("--since must be before --until")
    algorithm = strategy.make_algorithm()
    symbol = Symbol.objects.filter(exchange__ccxt_id=strategy.exchange, symbol=strategy.symbol)
    symbol = symbol.first()
    what = f"{strategy.symbol} {strategy.timeframe} on {strategy.exchange}"
    if symbol is None:
        raise ValueError(f"no candles stored for {what}")
    candles = Candle.objects.filter(symbol=symbol, timeframe=strategy.timeframe)
    history = settings.STRATEGY_HISTORY_CANDLES
    closed_by = latest_closed(strategy.timeframe, timezone.now())
    before = list(
        candles.filter(open_time__lt=since)
        .order_by("-open_time")
        .values_list("open_time", "close")[: history - 1]
    )
    before.reverse()
    inside = list(
        candles.filter(open_time__gte=since, open_time__lt=until, open_time__lte=closed_by)
        .order_by("open_time")
        .values_list("open_time", "close")
    )
    if not inside:
        raise ValueError(
            f"no stored candles for {what} between {since:%Y-%m-%d %H:%M} and "
            f"{until:%Y-%m-%d %H:%M} UTC; fetch them first (manage.py backfill_candles)"
        )
    rows = before + inside
    times = [row[0] for row in rows]
    prices = [row[1] for row in rows]
    closes = np.array([float(p) for p in prices], dtype=np.float64)
    book = Book(fee_rate=strategy.fee_rate, cash=strategy.capital)
    result = Result(capital=strategy.capital)
    total = len(inside)
    every = max(1, total // 100)
    for done, index in enumerate(range(len(before), len(rows)), start=1):
        result.steps.append(judge(algorithm, book, closes, index, times[index], prices[index]))
        if progress is not None and (done % every == 0 or done == total):
            progress(done, total)
    return result
