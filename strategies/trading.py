"""A strategy run: fresh candles, a decision per new closed candle, paper fills, records.

`judge` is the one step both a live run and a backtest take for each candle, so over the
same stored candles they record the same signals and trades.

A live run (`run`):

1. Fresh candles: when the newest closed candle of the strategy's symbol and timeframe is
   not stored yet, fetch the missing ones through the market-data provider (a strategy on
   1-minute candles cannot wait for the 10-minute collector). A failed fetch fails the run.
2. Read the newest closed candles: the ones not judged yet (at most
   `STRATEGY_CATCH_UP_CANDLES`; the newest one alone on a first run) and the history
   before them that the algorithm reads (`STRATEGY_HISTORY_CANDLES` per decision).
3. In one transaction, with the paper account's row locked: skip the candles a concurrent
   or repeated run has judged meanwhile, then judge each remaining candle, record its
   `Signal` (and `Trade` when it filled) and save the account. Two deliveries of one slot,
   or two runs at once, therefore record one signal per candle; the unique constraint on
   (strategy, candle) is the last guard.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from market_data.collection import collect_one
from market_data.models import Candle, Exchange, Symbol
from market_data.providers import get_provider
from market_data.timeframes import floor_ms, from_ms, timeframe_ms, to_ms

from .algorithms import Algorithm, Decision
from .models import PaperAccount, Signal, Strategy, Trade
from .paper import Book, Fill, money, plain

logger = logging.getLogger(__name__)


class StaleCandles(Exception):
    """The strategy's candles are behind and could not be fetched."""


@dataclass(frozen=True)
class Step:
    """One judged candle: the decision, the fill (if any) and the account's equity after."""

    time: datetime
    price: Decimal
    decision: Decision
    fill: Fill | None
    note: str
    equity: Decimal

    @property
    def reason(self) -> str:
        return f"{self.decision.reason}; {self.note}" if self.note else self.decision.reason


def judge(
    algorithm: Algorithm, book: Book, closes: np.ndarray, index: int, time: datetime, price: Decimal
) -> Step:
    """Decide on candle `index` of `closes` from the window of closes ending there, and apply
    the decision to `book` at the candle's close `price`."""
    history = settings.STRATEGY_HISTORY_CANDLES
    decision = algorithm.evaluate(closes[max(0, index - history + 1) : index + 1])
    fill, note = book.apply(decision.action, price)
    return Step(time, price, decision, fill, note, money(book.equity(price)))


def latest_closed(timeframe: str, now: datetime) -> datetime:
    """Open time of the newest candle of `timeframe` that has closed by `now`."""
    return from_ms(floor_ms(to_ms(now), timeframe) - timeframe_ms(timeframe))


def market(strategy: Strategy) -> Symbol:
    """The strategy's market row (created on first use, untracked: the strategy fetches what
    it needs itself; the collector only collects symbols tracked in admin)."""
    found = (
        Symbol.objects.filter(exchange__ccxt_id=strategy.exchange, symbol=strategy.symbol)
        .select_related("exchange")
        .first()
    )
    if found is not None:
        return found
    exchange, _ = Exchange.objects.get_or_create(ccxt_id=strategy.exchange)
    base, _, quote = strategy.symbol.partition("/")
    symbol, _ = Symbol.objects.get_or_create(
        exchange=exchange,
        symbol=strategy.symbol,
        defaults={"base": base, "quote": quote.split(":")[0], "timeframes": strategy.timeframe},
    )
    symbol.exchange = exchange
    return symbol


def ensure_fresh(symbol: Symbol, timeframe: str, now: datetime) -> int:
    """Fetch the candles missing up to the newest closed one; returns how many were stored
    (0 when nothing was missing). `StaleCandles` when the fetch failed."""
    wanted = latest_closed(timeframe, now)
    newest = Candle.objects.newest_open_time(symbol, timeframe)
    if newest is not None and newest >= wanted:
        return 0
    step = timeframe_ms(timeframe)
    window_start = to_ms(wanted) - (settings.STRATEGY_HISTORY_CANDLES - 1) * step
    since = window_start if newest is None else max(to_ms(newest), window_start)
    exchange = symbol.exchange

    async def fetch():
        provider = get_provider(exchange.ccxt_id, exchange.credentials())
        try:
            return await collect_one(provider, symbol, timeframe, since_ms=since)
        finally:
            await provider.close()

    try:
        outcome = async_to_sync(fetch)()
    except ValueError as exc:  # an exchange id no provider serves
        raise StaleCandles(f"cannot fetch {symbol.symbol} {timeframe}: {exc}") from None
    if outcome.error:
        raise StaleCandles(f"fetching {symbol.symbol} {timeframe} failed: {outcome.error}")
    # The newest stored candle is fetched again (it may have been forming): not a new one.
    return outcome.candles - (1 if newest is not None and since == to_ms(newest) else 0)


def closed_candles(
    symbol: Symbol, timeframe: str, until: datetime, count: int
) -> tuple[list[datetime], list[Decimal]]:
    """The newest `count` candles opening at or before `until`, oldest first."""
    rows = list(
        Candle.objects.filter(symbol=symbol, timeframe=timeframe, open_time__lte=until)
        .order_by("-open_time")
        .values_list("open_time", "close")[:count]
    )
    rows.reverse()
    return [row[0] for row in rows], [row[1] for row in rows]


def book_of(account: PaperAccount, fee_rate: Decimal) -> Book:
    return Book(
        fee_rate=fee_rate,
        cash=account.cash,
        position=account.position,
        cost=account.cost,
        realised_pnl=account.realised_pnl,
        fees_paid=account.fees_paid,
    )


def open_account(strategy: Strategy) -> PaperAccount:
    account, _ = PaperAccount.objects.get_or_create(
        strategy=strategy,
        defaults={
            "capital": strategy.capital,
            "cash": strategy.capital,
            "equity": strategy.capital,
        },
    )
    return account


def run(strategy: Strategy, now: datetime | None = None) -> str:
    """One live run of `strategy` as of `now` (default: the present); the run's summary.
    See the module docstring for the steps."""
    now = now or timezone.now()
    algorithm = strategy.make_algorithm()
    symbol = market(strategy)
    fetched = ensure_fresh(symbol, strategy.timeframe, now)
    account = open_account(strategy)

    catch_up = max(1, settings.STRATEGY_CATCH_UP_CANDLES)
    history = settings.STRATEGY_HISTORY_CANDLES
    times, prices = closed_candles(
        symbol, strategy.timeframe, latest_closed(strategy.timeframe, now), history + catch_up - 1
    )
    if account.last_signal_at is None:
        first = max(0, len(times) - 1)
    else:
        first = max(len(times) - catch_up, _after(times, account.last_signal_at))
    prefix = f"{strategy.symbol} {strategy.timeframe}"
    if fetched:
        prefix += f", {fetched} candle{'s' if fetched != 1 else ''} fetched"
    if first >= len(times):
        last = account.last_action or "none yet"
        return f"{prefix}: no new closed candle (last signal: {last})"

    closes = np.array([float(p) for p in prices], dtype=np.float64)
    steps = record(strategy, algorithm, times, prices, closes, first)
    if not steps:
        return f"{prefix}: candles already judged by another run"
    last = steps[-1]
    fills = sum(step.fill is not None for step in steps)
    return (
        f"{prefix}: {len(steps)} candle{'s' if len(steps) != 1 else ''} judged, "
        f"{fills} fill{'s' if fills != 1 else ''}; last {last.decision.action} at "
        f"{plain(last.price)} ({last.reason}); equity {plain(last.equity)}"
    )


def _after(times: list[datetime], moment: datetime) -> int:
    """Index of the first of `times` (ascending) later than `moment`."""
    return bisect.bisect_right(times, moment)


def record(
    strategy: Strategy,
    algorithm: Algorithm,
    times: list[datetime],
    prices: list[Decimal],
    closes: np.ndarray,
    first: int,
) -> list[Step]:
    """Judge candles `first`… under the account's row lock and record them (step 3)."""
    with transaction.atomic():
        account = PaperAccount.objects.select_for_update().get(strategy=strategy)
        if account.last_signal_at is not None:
            first = max(first, _after(times, account.last_signal_at))
        book = book_of(account, strategy.fee_rate)
        steps = []
        for index in range(first, len(times)):
            step = judge(algorithm, book, closes, index, times[index], prices[index])
            signal = Signal.objects.create(
                strategy=strategy,
                candle_time=step.time,
                action=step.decision.action,
                price=step.price,
                indicators=step.decision.indicators,
                reason=step.reason[:300],
                equity=step.equity,
            )
            if step.fill is not None:
                fill = step.fill
                Trade.objects.create(
                    strategy=strategy,
                    signal=signal,
                    time=step.time,
                    side=fill.side,
                    price=fill.price,
                    quantity=fill.quantity,
                    notional=fill.notional,
                    fee=fill.fee,
                    cash_after=fill.cash_after,
                    realised_pnl=fill.realised_pnl,
                )
            steps.append(step)
        if steps:
            last = steps[-1]
            PaperAccount.objects.filter(pk=account.pk).update(
                cash=book.cash,
                position=book.position,
                cost=book.cost,
                realised_pnl=book.realised_pnl,
                fees_paid=book.fees_paid,
                last_price=last.price,
                equity=last.equity,
                last_signal_at=last.time,
                last_action=last.decision.action,
                updated_at=timezone.now(),
            )
    return steps


def record_outcome(strategy_id: int, status: str, summary: str, at: datetime) -> str | None:
    """Keep a finished run's outcome on the account and count failures in a row; stop the
    strategy when they reach its limit. Returns the reason it was stopped, or None.

    Called from the scheduler's `run_finished` signal (see apps.py), after the run's own
    outcome is committed."""
    failed = status in ("failed", "timed_out")
    if not failed:
        # The common case in one statement: a success clears the count.
        done = PaperAccount.objects.filter(strategy_id=strategy_id).update(
            last_run_at=at, last_run_status=status, consecutive_failures=0, updated_at=at
        )
        if done:
            return None
    strategy = Strategy.objects.filter(pk=strategy_id).first()
    if strategy is None:
        return None
    account = open_account(strategy)
    with transaction.atomic():
        account = PaperAccount.objects.select_for_update().get(pk=account.pk)
        account.last_run_at = at
        account.last_run_status = status
        account.consecutive_failures = account.consecutive_failures + 1 if failed else 0
        limit_reached = failed and account.consecutive_failures >= strategy.max_failures
        if limit_reached:
            # Counted afresh if the user starts it again; the reason stays on the strategy.
            account.consecutive_failures = 0
        account.save(
            update_fields=["last_run_at", "last_run_status", "consecutive_failures", "updated_at"]
        )
        if not (limit_reached and strategy.is_active):
            return None
        reason = (
            f"Stopped itself after {strategy.max_failures} failed run"
            f"{'s' if strategy.max_failures != 1 else ''} in a row "
            f"(at {at:%Y-%m-%d %H:%M:%S} UTC); last error: {summary}"
        )[:500]
        strategy.is_active = False
        strategy.stopped_reason = reason
        strategy.save(update_fields=["is_active", "stopped_reason", "updated_at"])
    logger.warning("Strategy %s stopped: %s", strategy_id, reason)
    return reason
