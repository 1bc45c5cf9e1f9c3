"""The contract every market-data provider keeps.

All methods are coroutines, so the collection job can fetch many symbols at once from a
real exchange; the offline providers simply return. Candles are tuples
`(open time in ms, open, high, low, close, volume)` with `Decimal` values made from the
exchange's text (never through float arithmetic), open times on timeframe boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

RawCandle = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


class ProviderError(Exception):
    """A request failed for good (after retries, or not worth retrying)."""


class TransientError(ProviderError):
    """A network or rate-limit error: worth retrying after a pause."""


class BadSymbol(ProviderError):
    """The exchange does not list this symbol."""


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    active: bool = True


class MarketDataProvider:
    """Base class: one instance talks to one exchange.

    `exchange_id` is the exchange's ccxt id; `credentials` a dict such as
    `{"apiKey": ..., "secret": ...}`, possibly empty (market data is public).
    """

    #: The largest number of candles one `fetch_candles` call returns.
    page_limit = 1000

    def __init__(self, exchange_id: str, credentials: dict[str, str] | None = None):
        self.check_exchange_id(exchange_id)
        self.exchange_id = exchange_id
        self.credentials = credentials or {}

    @classmethod
    def check_exchange_id(cls, exchange_id: str) -> None:
        """Raise `ValueError` with a readable message when `exchange_id` is not served."""
        raise NotImplementedError

    def timeframes(self) -> list[str]:
        """The timeframes this exchange serves, in ccxt notation."""
        raise NotImplementedError

    async def load_markets(self) -> list[Market]:
        """Every market the exchange lists now (delisted ones are absent or inactive)."""
        raise NotImplementedError

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[RawCandle]:
        """Up to `limit` candles of `symbol` opening at or after `since_ms`, oldest first.

        Raises `BadSymbol` for a symbol the exchange does not list, `TransientError` for a
        network or rate-limit error (the caller retries), `ProviderError` otherwise. The
        newest candle may still be forming; callers store it and overwrite it later.
        """
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections; called once when the caller is done."""
