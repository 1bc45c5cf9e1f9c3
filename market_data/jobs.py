"""The built-in market-data jobs (see scheduler/registry.py for their schedules).

Both are `async def`: the execution path runs them on their own event loop with the
schedule's timeout, and they fetch from the exchanges concurrently. They catch provider
errors per symbol or exchange, count them, and return the one-line run summary.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async

from .collection import collect, with_retries
from .crypto import CredentialsError
from .models import Exchange
from .providers import get_provider
from .providers.base import ProviderError
from .symbols import store_markets

logger = logging.getLogger(__name__)

__all__ = ["collect_crypto_data", "update_exchange_symbols"]


async def collect_crypto_data() -> str:
    """Fetch new candles for every tracked symbol and timeframe: "N symbols, M candles,
    K errors"."""
    return (await collect()).line()


async def update_exchange_symbols() -> str:
    """Load each enabled exchange's markets, upsert its symbols, mark the delisted ones
    inactive (keeping their history)."""
    exchanges = await sync_to_async(lambda: list(Exchange.objects.filter(enabled=True)))()
    listed = delisted = errors = 0
    for exchange in exchanges:
        try:
            provider = get_provider(exchange.ccxt_id, exchange.credentials())
        except (CredentialsError, ValueError) as exc:
            logger.warning("Not refreshing %s: %s", exchange.ccxt_id, exc)
            errors += 1
            continue
        try:
            markets = await with_retries(provider.load_markets)
        except ProviderError as exc:
            logger.warning("Refreshing %s failed: %s", exchange.ccxt_id, exc)
            errors += 1
            continue
        finally:
            await provider.close()
        try:
            counts = await sync_to_async(store_markets)(exchange, markets)
        except Exception:
            # One exchange's bad data or a database error stops only that exchange.
            logger.exception("Storing the markets of %s failed", exchange.ccxt_id)
            errors += 1
            continue
        listed += counts[0]
        delisted += counts[1]
    return (
        f"{len(exchanges)} exchange{'' if len(exchanges) == 1 else 's'}, {listed} symbols, "
        f"{delisted} delisted, {errors} error{'' if errors == 1 else 's'}"
    )
