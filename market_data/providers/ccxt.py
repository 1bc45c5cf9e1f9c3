"""Real exchanges through ccxt's async support.

Prices stay text until they become `Decimal`: the client is made with `number = str`, so
ccxt's parsers (`safe_number` → `parse_number`) hand back the exchange's own strings instead
of floats. An exchange that sends JSON numbers rather than strings is read by the JSON parser
into a float, which we turn back into its shortest text (`repr`); for the up to 15
significant digits exchanges send, that is the text that was on the wire.

One client per exchange; `enableRateLimit` makes ccxt space the requests of all the
concurrent fetches to the exchange's published limit.
"""

from __future__ import annotations

from decimal import Decimal

from .base import BadSymbol, Market, MarketDataProvider, ProviderError, RawCandle, TransientError


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


class CcxtProvider(MarketDataProvider):
    page_limit = 500

    @classmethod
    def check_exchange_id(cls, exchange_id: str) -> None:
        import ccxt

        if exchange_id not in ccxt.exchanges:
            raise ValueError(
                f"unknown exchange id {exchange_id!r}: ccxt supports e.g. binance, kraken, "
                "coinbase (see ccxt.exchanges)"
            )

    def __init__(self, exchange_id: str, credentials: dict[str, str] | None = None):
        super().__init__(exchange_id, credentials)
        self._client = None

    @property
    def client(self):
        """The ccxt async exchange, made on first use (tests replace its `fetch`)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self):
        import ccxt.async_support as ccxt_async

        config = {"enableRateLimit": True, **self.credentials}
        client = getattr(ccxt_async, self.exchange_id)(config)
        client.number = str
        return client

    def timeframes(self) -> list[str]:
        return list((self.client.timeframes or {}).keys())

    async def _call(self, method: str, *args):
        import ccxt

        try:
            return await getattr(self.client, method)(*args)
        except ccxt.BadSymbol as exc:
            raise BadSymbol(f"{self.exchange_id}: {exc}") from None
        except ccxt.NetworkError as exc:  # includes rate limits, timeouts, DDoS protection
            raise TransientError(f"{self.exchange_id}: {type(exc).__name__}: {exc}") from None
        except ccxt.BaseError as exc:
            raise ProviderError(f"{self.exchange_id}: {type(exc).__name__}: {exc}") from None

    async def load_markets(self) -> list[Market]:
        markets = await self._call("load_markets")
        return [
            Market(
                symbol=m["symbol"],
                base=m.get("base") or "",
                quote=m.get("quote") or "",
                active=m.get("active") is not False,
            )
            for m in markets.values()
        ]

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[RawCandle]:
        if timeframe not in (self.client.timeframes or {}):
            raise ProviderError(f"{self.exchange_id} has no {timeframe} candles")
        await self._call("load_markets")
        if symbol not in self.client.markets:
            raise BadSymbol(f"{self.exchange_id} does not list {symbol}")
        rows = await self._call("fetch_ohlcv", symbol, timeframe, since_ms, limit)
        try:
            return [(int(r[0]), *(_decimal(v) for v in r[1:6])) for r in rows]
        except (TypeError, ValueError, ArithmeticError, IndexError) as exc:
            raise ProviderError(f"{self.exchange_id}: malformed candle: {exc}") from None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
