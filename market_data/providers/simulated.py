"""An offline market: deterministic price paths, so a demo looks live with no network.

Each symbol follows a geometric Brownian motion with its own volatility (from a hash of
its name), drawn from random numbers seeded by (symbol, timeframe, day):

1. Day anchors: the log price at each 00:00 UTC since 2020-01-01 is the sum of one seeded
   Gaussian step per day, so every timeframe of a symbol meets the same price at midnight.
2. Within a day, a timeframe's candles follow a Brownian bridge between the two anchors
   (seeded steps, corrected to end on the next anchor), so a candle depends only on its
   symbol, timeframe and day: the same candle for the same time on every call, in any
   process, whatever window was asked for.
3. Wicks and volume are further seeded draws; prices are rounded to ~8 significant digits
   with low <= open, close <= high kept after rounding.

Only closed candles are served (close time <= now), so nothing served ever changes.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from decimal import Decimal
from functools import lru_cache

from ..timeframes import MINUTE_MS, TIMEFRAMES, timeframe_ms
from .base import BadSymbol, Market, MarketDataProvider, RawCandle

DAY_MS = 86_400_000
EPOCH_DAY = 18262  # 2020-01-01, in days since 1970-01-01
USD_PRICES = {
    "BTC": 30000, "ETH": 2000, "SOL": 100, "BNB": 300, "XRP": 0.5, "ADA": 0.4,
    "DOGE": 0.08, "DOT": 6, "AVAX": 20, "LINK": 10, "LTC": 80, "TRX": 0.1, "MATIC": 0.8,
    "ATOM": 10, "XLM": 0.12, "ETC": 20, "FIL": 5, "APT": 8, "ARB": 1.2, "OP": 2, "NEAR": 2,
    "ICP": 5, "UNI": 6, "AAVE": 90, "ALGO": 0.2, "SHIB": 0.00001,
}  # fmt: skip
QUOTES = {"USDT": 1.0, "BTC": 30000, "ETH": 2000, "EUR": 1.1}
MARKETS = {
    f"{base}/{quote}": (base, quote) for quote in QUOTES for base in USD_PRICES if base != quote
}


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8])


class _Path:
    """One symbol's day anchors (log prices), grown on demand and shared by threads."""

    def __init__(self, symbol: str):
        base, quote = MARKETS[symbol]
        self.start = USD_PRICES[base] / QUOTES[quote]
        # Per-symbol yearly volatility between 40% and 120%.
        self.sigma_day = (0.4 + (_seed(symbol, "vol") % 80) / 100) / math.sqrt(365)
        # About 8 significant digits, however small the price (SHIB/BTC is ~1e-10), up
        # to the 18 places a candle stores.
        digits = int(math.floor(math.log10(self.start))) + 1
        self.places = min(18, max(2, 8 - digits))
        self.volume = 1_000_000 / max(self.start, 1e-9) ** 0.5
        self.symbol = symbol
        self.anchors = [math.log(self.start)]
        self.lock = threading.Lock()

    def anchor(self, day: int) -> float:
        index = day - EPOCH_DAY
        with self.lock:
            while len(self.anchors) <= index:
                rng = random.Random(_seed(self.symbol, "day", EPOCH_DAY + len(self.anchors)))
                s = self.sigma_day
                self.anchors.append(self.anchors[-1] + rng.gauss(-0.5 * s * s, s))
            return self.anchors[index]

    def price(self, value: float) -> Decimal:
        return Decimal(f"{value:.{self.places}f}")


_paths: dict[str, _Path] = {}
_paths_lock = threading.Lock()


def _path(symbol: str) -> _Path:
    with _paths_lock:
        if symbol not in _paths:
            _paths[symbol] = _Path(symbol)
        return _paths[symbol]


def _wicked(rng: random.Random, a: float, b: float, sigma: float, volume: float) -> tuple:
    """Floats (open, high, low, close, volume) from log price `a` to `b`, seeded wicks."""
    high = math.exp(max(a, b) + abs(rng.gauss(0, sigma)))
    low = math.exp(min(a, b) - abs(rng.gauss(0, sigma)))
    return math.exp(a), high, low, math.exp(b), volume * math.exp(rng.gauss(0, 0.5))


@lru_cache(maxsize=64)
def _minute_floats(symbol: str, day: int) -> tuple[tuple, ...]:
    """The 1m candles of `day` (days since 1970) as floats: a Brownian bridge between the
    day's anchors."""
    path = _path(symbol)
    n = DAY_MS // MINUTE_MS
    start, end = path.anchor(day), path.anchor(day + 1)
    rng = random.Random(_seed(symbol, "1m", day))
    sigma = path.sigma_day / math.sqrt(n)
    gauss = rng.gauss
    walk = [0.0]
    for _ in range(n):
        walk.append(walk[-1] + gauss(0.0, sigma))
    drift, total = end - start, walk[n]
    logs = [start + (i / n) * (drift - total) + walk[i] for i in range(n + 1)]
    volume = path.volume / 60
    return tuple(_wicked(rng, logs[i], logs[i + 1], sigma, volume) for i in range(n))


def _priced(path: _Path, ts: int, o: float, h: float, lo: float, c: float, v: float):
    open_, close = path.price(o), path.price(c)
    high, low = max(path.price(h), open_, close), min(path.price(lo), open_, close)
    return (ts, open_, high, low, close, Decimal(f"{v:.4f}"))


@lru_cache(maxsize=4096)
def _day_candles(symbol: str, timeframe: str, day: int) -> tuple[RawCandle, ...]:
    """Every candle of `timeframe` opening on `day`. Intraday timeframes aggregate the 1m
    path, so 1m and 1h charts agree; 1d runs from one day anchor to the next."""
    path = _path(symbol)
    step = timeframe_ms(timeframe)
    if step >= DAY_MS:
        rng = random.Random(_seed(symbol, timeframe, day))
        a, b = path.anchor(day), path.anchor(day + 1)
        return (
            _priced(path, day * DAY_MS, *_wicked(rng, a, b, path.sigma_day / 4, path.volume * 24)),
        )
    minutes = _minute_floats(symbol, day)
    per = step // MINUTE_MS
    out = []
    for i in range(0, len(minutes), per):
        group = minutes[i : i + per]
        out.append(
            _priced(
                path,
                day * DAY_MS + i * MINUTE_MS,
                group[0][0],
                max(m[1] for m in group),
                min(m[2] for m in group),
                group[-1][3],
                sum(m[4] for m in group),
            )
        )
    return tuple(out)


class SimulatedProvider(MarketDataProvider):
    """Serves the simulated market for any exchange id (`simulated`, or a ccxt id, so a demo
    can name a real exchange and still run offline)."""

    page_limit = 1000

    @classmethod
    def check_exchange_id(cls, exchange_id: str) -> None:
        import ccxt

        if exchange_id != "simulated" and exchange_id not in ccxt.exchanges:
            raise ValueError(
                f"unknown exchange id {exchange_id!r}: use `simulated` or a ccxt id "
                "such as binance or kraken"
            )

    def timeframes(self) -> list[str]:
        return list(TIMEFRAMES)

    async def load_markets(self) -> list[Market]:
        return [Market(symbol, base, quote) for symbol, (base, quote) in MARKETS.items()]

    async def fetch_candles(
        self, symbol: str, timeframe: str, since_ms: int, limit: int
    ) -> list[RawCandle]:
        return self.candles(symbol, timeframe, since_ms, limit)

    def candles(self, symbol: str, timeframe: str, since_ms: int, limit: int) -> list[RawCandle]:
        """The synchronous work of `fetch_candles` (the offline market needs no I/O)."""
        if symbol not in MARKETS:
            raise BadSymbol(f"{self.exchange_id} (simulated) does not list {symbol}")
        step = timeframe_ms(timeframe)
        now_ms = int(time.time() * 1000)
        first = max(-(-since_ms // step) * step, EPOCH_DAY * DAY_MS)
        last_open = now_ms - step  # the newest closed candle opens at or before this
        out: list[RawCandle] = []
        day = first // DAY_MS
        while len(out) < limit and day * DAY_MS <= last_open:
            for candle in _day_candles(symbol, timeframe, day):
                if first <= candle[0] <= last_open:
                    out.append(candle)
                    if len(out) == limit:
                        break
            day += 1
        return out
