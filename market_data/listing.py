"""Does an exchange list a symbol? Asked when a strategy's market is saved, so a typo
(`NOPE/USDT`) is an error on the form at once, not runs that fail until the strategy
stops itself.

The answer comes from the symbols `update_exchange_symbols` stored as listed, else from
the provider's market list, asked with a timeout. A row made for a symbol someone typed
(a strategy's run creates one) never counts as listed.
"""

from __future__ import annotations

import asyncio
import difflib
import logging

from asgiref.sync import async_to_sync
from django.conf import settings

from .models import Symbol
from .providers import get_provider

logger = logging.getLogger(__name__)


def unlisted(exchange_id: str, symbol: str) -> str | None:
    """Why `symbol` cannot be traded on `exchange_id` (with close matches), or None when
    it is listed or the list cannot be had (the save is not held up by a slow exchange:
    the run would say so)."""
    listed = listed_symbols(exchange_id)
    if listed is None or symbol in listed:
        return None
    close = difflib.get_close_matches(symbol.upper(), sorted(listed), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "."
    return f"{exchange_id} does not list {symbol}{hint}"


def listed_symbols(exchange_id: str) -> set[str] | None:
    stored = set(
        Symbol.objects.filter(
            exchange__ccxt_id=exchange_id, listed_at__isnull=False, active=True
        ).values_list("symbol", flat=True)
    )
    if stored:
        return stored
    try:
        markets = async_to_sync(_load_markets)(exchange_id)
    except Exception as exc:
        logger.warning("Could not load %s's markets to check a symbol: %s", exchange_id, exc)
        return None
    # An empty list (a replay folder with no files, say) says nothing either way.
    return {market.symbol for market in markets if market.active} or None


async def _load_markets(exchange_id: str):
    provider = get_provider(exchange_id)
    try:
        return await asyncio.wait_for(provider.load_markets(), settings.MARKET_DATA_LISTING_TIMEOUT)
    finally:
        await provider.close()
