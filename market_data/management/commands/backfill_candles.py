"""`manage.py backfill_candles`: fill a symbol's history from a date, with a progress bar.

Input is checked against the provider before anything is written. Each page is stored in
its own transaction and the progress row (`Backfill`) moves after it, so Ctrl-C (or
SIGTERM) finishes the current page and stops; the same command resumes after the last
stored page, and a finished backfill run again changes nothing.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime

from asgiref.sync import async_to_sync, sync_to_async
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from market_data.collection import StopCollecting, collect_one, with_retries
from market_data.crypto import CredentialsError
from market_data.models import Backfill, Exchange, Symbol
from market_data.providers import get_provider
from market_data.providers.base import MarketDataProvider, ProviderError
from market_data.timeframes import from_ms, timeframe_ms, to_ms

BAR = 30


class Interrupted(StopCollecting):
    """Ctrl-C or SIGTERM: stop after the page being stored."""


def parse_since(text: str) -> datetime:
    """A date (`2024-01-01`) or ISO datetime; naive values are UTC."""
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise ValueError(f"--since {text!r} is not a date like 2024-01-01")
        moment = datetime(day.year, day.month, day.day)
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


class Command(BaseCommand):
    help = "Fill a symbol's candle history from --since to now; resumable and idempotent."

    def add_arguments(self, parser):
        parser.add_argument("--exchange", required=True, help="ccxt id, e.g. binance")
        parser.add_argument("--symbol", required=True, help="ccxt symbol, e.g. BTC/USDT")
        parser.add_argument("--timeframe", required=True, help="e.g. 1m, 1h, 1d")
        parser.add_argument("--since", required=True, help="start date, e.g. 2024-01-01 (UTC)")

    def handle(self, *args, exchange, symbol, timeframe, since, **options):
        self.shutdown = False
        previous = self._trap_signals()
        try:
            # async_to_sync, not asyncio.run: the ORM calls then run in this thread, on
            # this thread's connection (and transaction).
            return async_to_sync(self.backfill)(exchange, symbol, timeframe, since)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _trap_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def stop(signum, frame):
            self.shutdown = True

        return {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    async def backfill(self, exchange_id: str, symbol: str, timeframe: str, since: str) -> str:
        try:
            start = parse_since(since)
            timeframe_ms(timeframe)  # an unsupported timeframe is refused here
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if start > timezone.now():
            raise CommandError(f"--since {since} is in the future")
        provider = await self.provider(exchange_id)
        try:
            row = await self.prepare(provider, symbol, timeframe, start)
            # From the last stored candle itself: it may have been still forming.
            resume_ms = to_ms(row.cursor) if row.cursor else to_ms(start)
            if row.cursor:
                self.stdout.write(f"Resuming after {row.cursor:%Y-%m-%d %H:%M} UTC")
            return await self.run(provider, row, resume_ms)
        finally:
            await provider.close()

    async def provider(self, exchange_id: str) -> MarketDataProvider:
        stored = await Exchange.objects.filter(ccxt_id=exchange_id).afirst()
        try:
            credentials = stored.credentials() if stored else {}
            return get_provider(exchange_id, credentials)
        except (ValueError, CredentialsError) as exc:
            raise CommandError(str(exc)) from None

    async def prepare(
        self, provider: MarketDataProvider, symbol: str, timeframe: str, start: datetime
    ) -> Backfill:
        """Check the input against the exchange, then (only then) create the rows."""
        if timeframe not in provider.timeframes():
            raise CommandError(
                f"{provider.exchange_id} has no {timeframe} candles; it has "
                f"{', '.join(provider.timeframes())}"
            )
        try:
            markets = {m.symbol: m for m in await with_retries(provider.load_markets)}
        except ProviderError as exc:
            raise CommandError(f"cannot load {provider.exchange_id}'s markets: {exc}") from None
        if symbol not in markets:
            raise CommandError(f"{provider.exchange_id} does not list {symbol}")
        market = markets[symbol]

        @sync_to_async
        def rows() -> Backfill:
            exchange, _ = Exchange.objects.get_or_create(ccxt_id=provider.exchange_id)
            row, _ = Symbol.objects.get_or_create(
                exchange=exchange,
                symbol=symbol,
                defaults={"base": market.base, "quote": market.quote, "active": market.active},
            )
            backfill, _ = Backfill.objects.get_or_create(
                symbol=row, timeframe=timeframe, since=start
            )
            return Backfill.objects.select_related("symbol").get(pk=backfill.pk)

        return await rows()

    async def run(self, provider: MarketDataProvider, row: Backfill, resume_ms: int) -> str:
        step = timeframe_ms(row.timeframe)
        first_ms = to_ms(row.since)
        total = max(1, (int(time.time() * 1000) - first_ms) // step)

        async def on_page(newest_ms: int, count: int) -> None:
            row.cursor = from_ms(newest_ms)
            row.candles += count
            await Backfill.objects.filter(pk=row.pk).aupdate(cursor=row.cursor, candles=row.candles)
            self.progress((newest_ms - first_ms) // step + 1, total, row)
            if self.shutdown:
                raise Interrupted

        try:
            outcome = await collect_one(
                provider, row.symbol, row.timeframe, since_ms=resume_ms, on_page=on_page
            )
        except Interrupted:
            self.stdout.write("")
            return (
                f"Interrupted after {row.cursor:%Y-%m-%d %H:%M} UTC; "
                "run the same command again to resume"
            )
        self.stdout.write("")
        if outcome.error:
            raise CommandError(f"stopped: {outcome.error}; run again to resume")
        row.finished_at = timezone.now()
        await Backfill.objects.filter(pk=row.pk).aupdate(finished_at=row.finished_at)
        gaps = f", {outcome.gaps} missing in the exchange's data" if outcome.gaps else ""
        return (
            f"Backfilled {row.symbol.symbol} {row.timeframe} since {row.since:%Y-%m-%d}: "
            f"{outcome.candles} candles stored in {outcome.pages} pages{gaps}"
        )

    def progress(self, done: int, total: int, row: Backfill) -> None:
        share = min(1.0, done / total)
        bar = "#" * int(share * BAR)
        self.stdout.write(
            f"\r[{bar:<{BAR}}] {share:4.0%} {row.cursor:%Y-%m-%d %H:%M} ({row.candles} candles)",
            ending="",
        )
        self.stdout.flush()
