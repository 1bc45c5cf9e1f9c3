"""Fetching candles into the database: one symbol and timeframe at a time, many at once.

1. Plan: for each collectable symbol and timeframe, start at the newest stored candle (it may
   have been forming when stored, so it is fetched again) or, with none stored, at
   `MARKET_DATA_LOOKBACK_CANDLES` before now.
2. Fetch page after page until an empty page or the present is reached; network and
   rate-limit errors are retried with doubling pauses, `MARKET_DATA_RETRIES` times.
3. Each page is cleaned (duplicates dropped, sorted, misaligned rows refused), its gaps
   counted, and upserted in its own transaction: an interrupted run leaves whole pages.
4. The symbol's outcome (last error or success time) is written on its row; one failing
   symbol does not stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from .crypto import CredentialsError
from .models import Candle, Exchange, Symbol
from .providers import get_provider
from .providers.base import MarketDataProvider, ProviderError, RawCandle, TransientError
from .timeframes import timeframe_ms, to_ms

logger = logging.getLogger(__name__)

MAX_PAGES = 1000  # a safety bound: a provider that never stops cannot loop forever


@dataclass
class Outcome:
    """What one symbol and timeframe gave: candles stored, gaps seen, or the error."""

    candles: int = 0
    gaps: int = 0
    error: str = ""
    pages: int = 0


@dataclass
class Summary:
    symbols: set[int] = field(default_factory=set)
    candles: int = 0
    gaps: int = 0
    errors: int = 0

    def line(self) -> str:
        text = (
            f"{_plural(len(self.symbols), 'symbol')}, {_plural(self.candles, 'candle')}, "
            f"{_plural(self.errors, 'error')}"
        )
        return text + (f" ({_plural(self.gaps, 'gap')} in the data)" if self.gaps else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def clean_page(rows: list[RawCandle], timeframe: str) -> tuple[list[RawCandle], int]:
    """`rows` once each, in order, only those on timeframe boundaries; and the count of
    missing candles between them (gaps are reported, never filled)."""
    step = timeframe_ms(timeframe)
    for row in rows:
        if not _sane(row):
            raise ProviderError(f"malformed candle at {row[0]}: {row[1:]}")
    unique = {row[0]: row for row in rows if row[0] % step == 0}
    ordered = [unique[ms] for ms in sorted(unique)]
    gaps = sum((b[0] - a[0]) // step - 1 for a, b in zip(ordered, ordered[1:], strict=False))
    return ordered, gaps


def _sane(row: RawCandle) -> bool:
    """Finite prices with low ≤ open, close ≤ high, and a volume of at least zero: a page
    holding anything else is refused whole, nothing of it stored."""
    _, o, h, lo, c, v = row
    if not all(x.is_finite() for x in (o, h, lo, c, v)):
        return False
    return lo <= min(o, c) and max(o, c) <= h and v >= 0


async def with_retries(call: Callable[[], Awaitable]):
    """`call()`, retried on `TransientError` with pauses of backoff, 2×backoff, …"""
    tries = max(1, settings.MARKET_DATA_RETRIES)
    pause = settings.MARKET_DATA_RETRY_BACKOFF
    for attempt in range(1, tries + 1):
        try:
            return await call()
        except TransientError as exc:
            if attempt == tries:
                raise ProviderError(f"{exc} (gave up after {tries} tries)") from None
            logger.info("Retrying after %s (try %s of %s)", exc, attempt, tries)
            await asyncio.sleep(pause * 2 ** (attempt - 1))


class StopCollecting(Exception):  # noqa: N818 - a signal, not an error
    """Raised by an `on_page` callback to stop `collect_one` after a stored page (the
    backfill command, interrupted); it goes through to the caller."""


async def collect_one(
    provider: MarketDataProvider,
    symbol: Symbol,
    timeframe: str,
    since_ms: int | None = None,
    on_page: Callable[[int, int], Awaitable[None]] | None = None,
) -> Outcome:
    """Fetch and store `symbol`'s `timeframe` candles from `since_ms` (default: as in the
    module docstring) to the present; provider errors are caught into the
    outcome. `on_page(newest open time, count)` is awaited after each stored page."""
    outcome = Outcome()
    try:
        step = timeframe_ms(timeframe)
        if since_ms is None:
            newest = await sync_to_async(Candle.objects.newest_open_time)(symbol, timeframe)
            if newest is not None:
                since_ms = to_ms(newest)
            else:
                now_ms = int(time.time() * 1000)
                since_ms = now_ms - now_ms % step - settings.MARKET_DATA_LOOKBACK_CANDLES * step
        previous: int | None = None
        limit = provider.page_limit
        for _ in range(MAX_PAGES):
            cursor = since_ms
            rows = await with_retries(
                lambda cursor=cursor: provider.fetch_candles(
                    symbol.symbol, timeframe, cursor, limit
                )
            )
            rows, gaps = clean_page([r for r in rows if r[0] >= cursor], timeframe)
            if not rows:
                break
            if previous is not None and rows[0][0] > previous + step:
                gaps += (rows[0][0] - previous) // step - 1
            outcome.candles += await sync_to_async(Candle.objects.upsert_many)(
                symbol, timeframe, rows
            )
            outcome.gaps += gaps
            outcome.pages += 1
            previous = rows[-1][0]
            if on_page is not None:
                await on_page(previous, len(rows))
            now_ms = int(time.time() * 1000)
            if previous + step >= now_ms - now_ms % step:
                break  # caught up: this was the newest (perhaps forming) candle
            since_ms = previous + step
        else:
            # Not caught up after the most pages one call may fetch: say so, so a backfill
            # is not reported complete (the next run or call continues from here).
            outcome.error = f"stopped after {MAX_PAGES} pages, not caught up yet"
    except ProviderError as exc:
        outcome.error = str(exc)[:500]
    except StopCollecting:
        raise
    except Exception as exc:
        # Anything else (a parser's KeyError, a database error) is still this symbol's
        # error, never the whole run's: the other symbols are collected and recorded.
        logger.exception("Collecting %s %s failed", symbol.symbol, timeframe)
        outcome.error = f"{type(exc).__name__}: {exc}"[:500]
    return outcome


async def collect(symbols: list[Symbol] | None = None) -> Summary:
    """Collect every collectable symbol (or `symbols`) in each of its timeframes, at most
    `MARKET_DATA_CONCURRENCY` at once; returns the counts for the run summary."""
    if symbols is None:
        symbols = await sync_to_async(
            lambda: list(Symbol.objects.collectable().select_related("exchange"))
        )()
    summary = Summary()
    limit = asyncio.Semaphore(max(1, settings.MARKET_DATA_CONCURRENCY))
    by_exchange: dict[int, list[Symbol]] = {}
    for symbol in symbols:
        by_exchange.setdefault(symbol.exchange_id, []).append(symbol)

    async def one(provider: MarketDataProvider, symbol: Symbol, timeframe: str) -> Outcome:
        async with limit:
            return await collect_one(provider, symbol, timeframe)

    for group in by_exchange.values():
        exchange: Exchange = group[0].exchange
        summary.symbols.update(s.pk for s in group)
        try:
            provider = get_provider(exchange.ccxt_id, exchange.credentials())
        except (CredentialsError, ValueError) as exc:
            message = f"exchange {exchange.ccxt_id}: {exc}"
            logger.warning("Not collecting %s", message)
            for symbol in group:
                summary.errors += 1
                await _record(symbol, message)
            continue
        try:
            jobs = [(s, tf) for s in group for tf in s.timeframe_list()]
            outcomes = await asyncio.gather(*(one(provider, s, tf) for s, tf in jobs))
        finally:
            await provider.close()
        errors: dict[int, list[str]] = {}
        for (symbol, timeframe), outcome in zip(jobs, outcomes, strict=True):
            summary.candles += outcome.candles
            summary.gaps += outcome.gaps
            if outcome.error:
                summary.errors += 1
                errors.setdefault(symbol.pk, []).append(f"{timeframe}: {outcome.error}")
        for symbol in group:
            await _record(symbol, "; ".join(errors.get(symbol.pk, [])))
    return summary


@sync_to_async
def _record(symbol: Symbol, error: str) -> None:
    fields = {"last_error": error[:500]}
    if not error:
        fields["last_collected_at"] = timezone.now()
    else:
        logger.warning("Collecting %s failed: %s", symbol.symbol, error)
    Symbol.objects.filter(pk=symbol.pk).update(**fields)
