"""The market-data part of the hub's health check.

The scheduler's `health_check` job checks the database, the broker and its own lock, and
asks `freshness_check()` (named in its registry's `HEALTH_CHECKS`) about the data; pages and
`/healthz` read the report it records instead of re-running anything.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import Candle, Symbol
from .timeframes import timeframe_ms

SHOWN = 5  # stale series named in the message; the rest are counted


def freshness_check() -> dict[str, str]:
    """How old the newest candle of each tracked symbol and timeframe is, against its
    timeframe: a series is stale when its newest candle closed more than two timeframes
    plus MARKET_DATA_FRESHNESS_GRACE (the collection interval) ago, or has no candle."""
    now = timezone.now()
    grace = timedelta(seconds=settings.MARKET_DATA_FRESHNESS_GRACE)
    series, stale = 0, []
    for symbol in Symbol.objects.collectable().select_related("exchange"):
        for timeframe in symbol.timeframe_list():
            series += 1
            step = timedelta(milliseconds=timeframe_ms(timeframe))
            newest = Candle.objects.newest_open_time(symbol, timeframe)
            name = f"{symbol.exchange.ccxt_id} {symbol.symbol} {timeframe}"
            if newest is None:
                stale.append(f"{name} (no candles)")
            elif now - (newest + step) > 2 * step + grace:
                minutes = (now - (newest + step)).total_seconds() / 60
                stale.append(f"{name} ({minutes:.0f} min old)")
    if not series:
        return {"name": "data freshness", "status": "ok", "message": "no tracked symbols"}
    if not stale:
        return {
            "name": "data freshness",
            "status": "ok",
            "message": f"{series} series fresh",
        }
    more = f" and {len(stale) - SHOWN} more" if len(stale) > SHOWN else ""
    return {
        "name": "data freshness",
        "status": "warn",
        "message": f"{len(stale)} of {series} series stale: {', '.join(stale[:SHOWN])}{more}",
    }
